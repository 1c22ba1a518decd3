//! Subject validation, done before anything is sent.

/// Error returned for a subject that NCL will not publish or subscribe to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject is empty.
    #[error("subject is empty")]
    Empty,
    /// The subject has an empty token: a leading, trailing or doubled dot.
    #[error("subject {subject:?} has an empty token (a leading, trailing or doubled '.')")]
    EmptyToken {
        /// The rejected subject.
        subject: String,
    },
    /// The subject contains whitespace or a control character.
    #[error("subject {subject:?} contains whitespace or a control character")]
    Whitespace {
        /// The rejected subject.
        subject: String,
    },
    /// A publish subject contains a wildcard token.
    #[error(
        "subject {subject:?} contains a wildcard ('*' or '>'); messages go to concrete subjects"
    )]
    Wildcard {
        /// The rejected subject.
        subject: String,
    },
    /// A `>` wildcard is not the last token of a subscription subject.
    #[error("subject {subject:?} has '>' before its last token")]
    MisplacedWildcard {
        /// The rejected subject.
        subject: String,
    },
}

/// Checks a subject that a message will be published to.
///
/// A publish subject is one or more non-empty tokens separated by `.`, with no
/// whitespace, control characters or wildcards.
///
/// # Errors
///
/// Returns the [`SubjectError`] describing the first problem found.
///
/// # Examples
///
/// ```
/// assert!(ncl::validate_publish_subject("jobs.node-1.JobAssigned").is_ok());
/// assert!(ncl::validate_publish_subject("jobs..node").is_err());
/// assert!(ncl::validate_publish_subject("jobs.*").is_err());
/// ```
pub fn validate_publish_subject(subject: &str) -> Result<(), SubjectError> {
    validate_tokens(subject, |token, _| {
        if token == "*" || token == ">" {
            Err(SubjectError::Wildcard {
                subject: subject.to_owned(),
            })
        } else {
            Ok(())
        }
    })
}

/// Checks a subject to subscribe to; `*` tokens and a final `>` token are allowed.
///
/// # Errors
///
/// Returns the [`SubjectError`] describing the first problem found.
pub fn validate_subscribe_subject(subject: &str) -> Result<(), SubjectError> {
    validate_tokens(subject, |token, is_last| {
        if token == ">" && !is_last {
            Err(SubjectError::MisplacedWildcard {
                subject: subject.to_owned(),
            })
        } else {
            Ok(())
        }
    })
}

fn validate_tokens(
    subject: &str,
    mut check_token: impl FnMut(&str, bool) -> Result<(), SubjectError>,
) -> Result<(), SubjectError> {
    if subject.is_empty() {
        return Err(SubjectError::Empty);
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SubjectError::Whitespace {
            subject: subject.to_owned(),
        });
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() {
            return Err(SubjectError::EmptyToken {
                subject: subject.to_owned(),
            });
        }
        check_token(token, tokens.peek().is_none())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_subject_accepts_plain_tokens() {
        for subject in ["a", "a.b", "jobs.node-1.JobAssigned", "x_y.Z9"] {
            assert_eq!(validate_publish_subject(subject), Ok(()), "{subject}");
        }
    }

    #[test]
    fn publish_subject_rejects_bad_shapes() {
        assert_eq!(validate_publish_subject(""), Err(SubjectError::Empty));
        for subject in ["a..b", "a.", ".a", "."] {
            assert!(
                matches!(
                    validate_publish_subject(subject),
                    Err(SubjectError::EmptyToken { .. })
                ),
                "{subject}"
            );
        }
        for subject in ["a b", "a\tb", "a\r\nb", "a\u{0}b"] {
            assert!(
                matches!(
                    validate_publish_subject(subject),
                    Err(SubjectError::Whitespace { .. })
                ),
                "{subject:?}"
            );
        }
        for subject in ["a.*", "*", "a.>", ">"] {
            assert!(
                matches!(
                    validate_publish_subject(subject),
                    Err(SubjectError::Wildcard { .. })
                ),
                "{subject}"
            );
        }
    }

    #[test]
    fn subscribe_subject_accepts_wildcards() {
        for subject in ["a.*", "*", "a.>", ">", "a.*.c", "*.>"] {
            assert_eq!(validate_subscribe_subject(subject), Ok(()), "{subject}");
        }
    }

    #[test]
    fn subscribe_subject_rejects_inner_full_wildcard() {
        assert!(matches!(
            validate_subscribe_subject("a.>.c"),
            Err(SubjectError::MisplacedWildcard { .. })
        ));
        assert!(matches!(
            validate_subscribe_subject("a..b"),
            Err(SubjectError::EmptyToken { .. })
        ));
    }

    #[test]
    fn wildcard_inside_token_is_literal() {
        assert_eq!(validate_publish_subject("a*b.c>d"), Ok(()));
    }
}
