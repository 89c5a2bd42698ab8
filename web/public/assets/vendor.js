// Loads the vendored browser libraries (public/vendor/, copied from npm by scripts/vendor.mjs) on
// first use: a <script src> from our own origin, so a CSP without 'unsafe-inline' allows it.

const loaded = new Map();

/** Loads a vendored UMD/IIFE build (`/vendor/<file>`) once and resolves to the global it defines. */
export function loadVendor(file, globalName) {
  if (window[globalName]) return Promise.resolve(window[globalName]);
  if (!loaded.has(file)) {
    loaded.set(
      file,
      new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = `/vendor/${file}`;
        script.onload = () => resolve(window[globalName]);
        script.onerror = () => {
          loaded.delete(file);
          reject(new Error(`Could not load ${file}`));
        };
        document.head.append(script);
      }),
    );
  }
  return loaded.get(file);
}
