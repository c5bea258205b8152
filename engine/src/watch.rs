//! A background thread that dies takes the engine's writes with it: a server that went on
//! acknowledging into buffers no thread flushes, or past a WAL no thread writes, would lose
//! what it acknowledged. Each such thread keeps an [`OnPanic`] that poisons the engine.

/// Runs `poison` if the thread it lives on unwinds.
pub(crate) struct OnPanic<F: FnMut()> {
    thread: &'static str,
    poison: F,
}

impl<F: FnMut()> OnPanic<F> {
    pub(crate) fn new(thread: &'static str, poison: F) -> Self {
        OnPanic { thread, poison }
    }
}

impl<F: FnMut()> Drop for OnPanic<F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                thread = self.thread,
                "a background thread panicked; refusing writes until restart (acknowledged data is safe in the WAL)"
            );
            (self.poison)();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OnPanic;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn poisons_on_panic_only() {
        let flag = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flag);
        std::thread::spawn(move || {
            let _watch = OnPanic::new("test", move || f.store(true, Ordering::SeqCst));
        })
        .join()
        .expect("a clean exit");
        assert!(!flag.load(Ordering::SeqCst));
        let f = Arc::clone(&flag);
        let died = std::thread::spawn(move || {
            let _watch = OnPanic::new("test", move || f.store(true, Ordering::SeqCst));
            panic!("injected");
        })
        .join();
        assert!(died.is_err());
        assert!(flag.load(Ordering::SeqCst));
    }
}
