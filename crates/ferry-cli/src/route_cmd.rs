//! `ferry route URL`: the decision of section 7 of the proxy-selection
//! contract, one line on stdout, the rule on stderr with `--explain`.

use ferry::{Client, RouteKind, Url};

use crate::cli::RouteArgs;
use crate::exit::{usage, CliError};
use crate::items::complete_url;
use crate::request::route_kind;
use crate::settings::{apply_proxy_args, explain_reason};

/// Decides and prints; the error names the unusable setting.
pub fn run(args: &RouteArgs) -> Result<(), CliError> {
    let mut url =
        Url::parse(&complete_url(&args.url)).map_err(|e| usage(format!("invalid URL: {e}")))?;
    // Selection never looks at user info; dropping it here means no message
    // below can show it.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let builder = apply_proxy_args(Client::builder(), &args.proxy, &url)?;
    let client = builder.build()?;
    let decision = client.route_for(&url)?;
    println!("{}", decision.line());
    if args.explain {
        let how = match decision.route().kind() {
            RouteKind::Direct => "straight to the origin".to_owned(),
            _ => route_kind(decision.route()),
        };
        eprintln!("route: {how}");
        eprintln!("rule: {}", explain_reason(decision.reason(), &args.proxy));
        for note in decision.notes() {
            eprintln!("note: {}", explain_reason(note, &args.proxy));
        }
    }
    Ok(())
}
