//! One log line for an error and its causes.

/// `outer: cause: root cause`, for one log line: a 5xx or a background failure is
/// logged once, with the whole chain.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn every_cause_is_named_in_order() {
        let err = Outer(Inner(std::io::Error::other("root")));
        assert_eq!(error_chain(&err), "outer: inner: root");
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }
}
