//! Races for concurrency tests: [`together`] starts tasks that a barrier releases at once.

use std::future::Future;
use std::sync::Arc;

/// Runs `task(0..n)` in `n` tasks released together by a barrier; returns their results.
pub async fn together<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (barrier, run) = (barrier.clone(), task(i));
        tasks.spawn(async move {
            barrier.wait().await;
            run.await
        });
    }
    tasks.join_all().await
}
