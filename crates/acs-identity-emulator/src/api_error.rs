//! Error answers in the service's shape: `{"error":{"code","message","target"?}}`.

use serde_json::json;

use crate::inspect::Refusal;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub target: Option<String>,
    /// What the emulator's request log says about a refusal; never sent
    /// (the service answers with its bare error).
    pub refusal: Option<Box<Refusal>>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            target: None,
            refusal: None,
        }
    }

    /// The same error, explained in the request log by `refusal`.
    pub fn with_refusal(mut self, refusal: Refusal) -> Self {
        self.refusal = Some(Box::new(refusal));
        self
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn validation(target: &str, message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message).with_target(target)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(401, code, message)
    }

    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(target) = &self.target {
            error["target"] = json!(target);
        }
        json!({ "error": error })
    }
}
