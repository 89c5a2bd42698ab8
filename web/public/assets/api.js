// The connector's JSON API from the browser: JSON in and out, problem+json errors as ApiError.

/** A non-2xx answer; `problem` is the parsed problem+json (type, title, status, detail, errors?). */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `The connector answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || { status };
  }

  /** Map(field -> message) from the problem's `errors` (several messages for one field are joined). */
  fieldErrors() {
    const map = new Map();
    for (const { field, message } of this.problem.errors || []) {
      map.set(field, map.has(field) ? `${map.get(field)}; ${message}` : message);
    }
    return map;
  }
}

/** `?a=1&b=2` from an object, leaving out undefined, null and '' values. */
export function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * A client of the API at `baseUrl` ('' = this origin); `headers()` gives the identity headers of
 * each request (it may be async); `onUnauthorized()` runs when the API refuses them (401).
 */
export function createApi({ baseUrl = '', headers = () => ({}), onUnauthorized = () => {} } = {}) {
  async function request(method, path, { query, body, accept = 'application/json' } = {}) {
    const init = { method, headers: { accept, ...(await headers()) } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${baseUrl}${path}${queryString(query)}`, init);
    } catch {
      throw new Error('The connector cannot be reached');
    }
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch {
        problem = { status: response.status, title: response.statusText };
      }
      if (response.status === 401) onUnauthorized();
      throw new ApiError(response.status, problem);
    }
    if (response.status === 204) return null;
    if (accept !== 'application/json') return response.text();
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  return {
    get: (path, query) => request('GET', path, { query }),
    post: (path, body) => request('POST', path, { body: body ?? {} }),
    put: (path, body) => request('PUT', path, { body }),
    del: (path) => request('DELETE', path),
    text: (path, query) => request('GET', path, { query, accept: 'text/plain, text/csv, */*' }),
  };
}
