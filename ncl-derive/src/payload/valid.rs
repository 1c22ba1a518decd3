//! Checks that follow from the bounds of `ncl::Payload` rather than from the `#[ncl]`
//! attributes, so they live here and not in `ncl_schema`.

use syn::Generics;

/// Rejects lifetime parameters, with one error spanned on each.
///
/// `ncl::Payload` requires `DeserializeOwned + 'static`, so a payload owns its data. The
/// impl for `Type<'a>` could apply only to `Type<'static>`, and a type that borrows while
/// deserializing would fail at each use with an error far from the cause.
pub(super) fn reject_lifetimes(generics: &Generics) -> syn::Result<()> {
    let mut errors = generics.lifetimes().map(|param| {
        syn::Error::new_spanned(
            &param.lifetime,
            format!(
                "payload types cannot have lifetime parameters such as `{}`, because \
                 ncl::Payload requires DeserializeOwned + 'static; use owned fields \
                 (String in place of &str)",
                param.lifetime,
            ),
        )
    });
    let Some(mut combined) = errors.next() else {
        return Ok(());
    };
    for error in errors {
        combined.combine(error);
    }
    Err(combined)
}
