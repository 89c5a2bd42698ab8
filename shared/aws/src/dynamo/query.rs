//! One Query loop for every store: a [`Query`] says what to read (table or index, key
//! condition, filter, direction, consistency, where to start, how many), and
//! [`Dynamo::query_all`] and [`Dynamo::count`] follow DynamoDB's pages until it is read.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::Select;
use connector_domain::StoreError;

use super::{Dynamo, Expr, Item};
use crate::error_map;

/// What one Query reads, built step by step: `Query::new(table, key, &e).index(..).newest_first()`.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    table: &'a str,
    index: Option<&'a str>,
    key_condition: String,
    filter: Option<String>,
    expr: &'a Expr,
    newest_first: bool,
    consistent: bool,
    start: Option<Item>,
    limit: Option<usize>,
    page_size: Option<usize>,
}

impl<'a> Query<'a> {
    /// A Query of `table` by `key_condition` (placeholders from `expr`): in key order, eventually
    /// consistent, every item.
    pub fn new(table: &'a str, key_condition: String, expr: &'a Expr) -> Self {
        Self {
            table,
            index: None,
            key_condition,
            filter: None,
            expr,
            newest_first: false,
            consistent: false,
            start: None,
            limit: None,
            page_size: None,
        }
    }

    /// On the index `index` instead of the table.
    pub fn index(mut self, index: &'a str) -> Self {
        self.index = Some(index);
        self
    }

    /// Only the items `filter` keeps (applied after each page is read).
    pub fn filter(mut self, filter: Option<String>) -> Self {
        self.filter = filter;
        self
    }

    /// Newest (highest sort key) first when `newest_first`.
    pub fn newest_first(mut self, newest_first: bool) -> Self {
        self.newest_first = newest_first;
        self
    }

    /// Strongly consistent (tables only: indexes cannot be).
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// Starting after `start` (an exclusive start key).
    pub fn start(mut self, start: Option<Item>) -> Self {
        self.start = start;
        self
    }

    /// At most `limit` items: each page asks for no more than are still wanted (all of a page
    /// when a filter may drop some), and reading stops once `limit` are found.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Pages of at most `size` items read (whatever the limit).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size);
        self
    }

    /// DynamoDB's `Limit` for the next page, `found` items in.
    fn page_limit(&self, found: usize) -> Option<i32> {
        let still_wanted = self
            .limit
            .filter(|_| self.filter.is_none())
            .map(|l| l.saturating_sub(found));
        let size = match (self.page_size, still_wanted) {
            (Some(size), Some(wanted)) => Some(size.min(wanted)),
            (size, wanted) => size.or(wanted),
        };
        size.map(|s| i32::try_from(s).unwrap_or(i32::MAX))
    }

    /// The request for the page that starts at `self.start`.
    fn request(&mut self, db: &Dynamo, found: usize) -> QueryFluentBuilder {
        db.client
            .query()
            .table_name(self.table)
            .set_index_name(self.index.map(str::to_owned))
            .key_condition_expression(&self.key_condition)
            .set_filter_expression(self.filter.clone())
            .set_expression_attribute_names(self.expr.names())
            .set_expression_attribute_values(self.expr.values())
            .scan_index_forward(!self.newest_first)
            .set_consistent_read(self.consistent.then_some(true))
            .set_limit(self.page_limit(found))
            .set_exclusive_start_key(self.start.take())
    }

    /// Whether there is a next page (and where it starts).
    fn next_page(&mut self, last_evaluated: Option<Item>, found: usize) -> bool {
        match last_evaluated {
            Some(key) if !key.is_empty() && self.limit.is_none_or(|l| found < l) => {
                self.start = Some(key);
                true
            }
            _ => false,
        }
    }
}

impl Dynamo {
    /// The items `q` finds, page by page, in its order (at most its limit).
    pub(crate) async fn query_all(&self, mut q: Query<'_>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        loop {
            let out = q
                .request(self, found.len())
                .send()
                .await
                .map_err(error_map::dynamo)?;
            found.extend(out.items.unwrap_or_default());
            if !q.next_page(out.last_evaluated_key, found.len()) {
                if let Some(limit) = q.limit {
                    found.truncate(limit);
                }
                return Ok(found);
            }
        }
    }

    /// How many items `q` finds (`Select = COUNT`, page by page).
    pub(crate) async fn count(&self, mut q: Query<'_>) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let out = q
                .request(self, 0)
                .select(Select::Count)
                .send()
                .await
                .map_err(error_map::dynamo)?;
            total += u64::try_from(out.count).unwrap_or(0);
            if !q.next_page(out.last_evaluated_key, 0) {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_ask_for_what_is_still_wanted_unless_filtered() {
        let e = Expr::default();
        let q = |limit: Option<usize>, page: Option<usize>, filter: Option<&str>| {
            let mut q = Query::new("t", "k".into(), &e).filter(filter.map(str::to_owned));
            if let Some(l) = limit {
                q = q.limit(l);
            }
            if let Some(p) = page {
                q = q.page_size(p);
            }
            q
        };
        assert_eq!(q(None, None, None).page_limit(0), None);
        assert_eq!(q(Some(10), None, None).page_limit(4), Some(6));
        assert_eq!(q(Some(10), None, Some("f")).page_limit(4), None);
        assert_eq!(q(Some(10), Some(1000), Some("f")).page_limit(4), Some(1000));
        assert_eq!(q(Some(5000), Some(1000), None).page_limit(0), Some(1000));
        assert_eq!(q(None, Some(1000), None).page_limit(0), Some(1000));
    }
}
