//! The emulator's inspector page in a real browser: Debian's Chromium,
//! headless, driven through chromedriver (WebDriver) by fantoccini.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the tests say so
//! and pass, except under CI (`CI=true`), where `.ci/run` installs both
//! and a missing browser is a failure.

mod driver;
mod token_service;

use std::time::Duration;

use acs_identity::{CommunicationIdentityClient, Error, RetryOptions, TokenScope};
use acs_identity_emulator::Emulator;
use fantoccini::Locator;

use driver::Browser;

/// How long the page gets to show a change (it refreshes every second).
const SHOWN_WITHIN: Duration = Duration::from_secs(15);

fn client(connection_string: &str) -> CommunicationIdentityClient {
    CommunicationIdentityClient::builder_from_connection_string(connection_string)
        .unwrap()
        .retry(RetryOptions::none())
        .build()
        .unwrap()
}

/// The text of the element `css`, once it satisfies `ready`.
async fn text_when(
    browser: &Browser,
    css: &str,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + SHOWN_WITHIN;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(element) = browser.client.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if ready(&last) {
                return last;
            }
        }
        // The page refreshes once a second: look again a little later.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} did not show {what} within {SHOWN_WITHIN:?}; last text: {last:?}");
}

#[tokio::test]
async fn the_inspector_shows_users_refusals_and_arms_faults() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    let page = format!("{}_emulator/", emulator.endpoint());
    browser.client.goto(&page).await.unwrap();
    assert_eq!(
        browser.client.title().await.unwrap(),
        "ACS Identity emulator"
    );

    // 1. A user created through the API appears.
    let good = client(&emulator.connection_string());
    let user = good.create_user().await.unwrap();
    text_when(&browser, "#identities tbody", "the new user", |t| {
        t.contains(user.id())
    })
    .await;

    // 2. A badly signed request appears with the reason.
    let wrong_key = emulator.connection_string().replace(
        emulator.access_key(),
        "d3Jvbmcta2V5LWZvci10aGUtYnJvd3Nlci10ZXN0",
    );
    let refused = client(&wrong_key).create_user().await.unwrap_err();
    assert!(matches!(refused, Error::Service(ref e) if e.status == 401));
    let log = text_when(&browser, "#requests tbody", "the refusal", |t| {
        t.contains("signature mismatch")
    })
    .await;
    assert!(log.contains("string the emulator signed"), "{log}");
    assert!(!log.contains(emulator.access_key()));

    // 3. A fault armed from the page makes the next call fail.
    let input = browser
        .client
        .find(Locator::Id("faults-input"))
        .await
        .unwrap();
    input.send_keys("issue_access_token:503x1").await.unwrap();
    browser
        .client
        .find(Locator::Id("faults-apply"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_when(&browser, "#faults-current", "the armed fault", |t| {
        t.contains("issue_access_token:503x1")
    })
    .await;
    let failed = good.get_token(&user, [TokenScope::Chat]).await.unwrap_err();
    assert!(
        matches!(failed, Error::Service(ref e) if e.status == 503),
        "{failed:?}"
    );
    // Used up: the next call succeeds, and the page counts the fault.
    good.get_token(&user, [TokenScope::Chat]).await.unwrap();
    text_when(&browser, "#stat-faults", "one fault", |t| t == "1").await;

    if let Ok(path) = std::env::var("INSPECTOR_SCREENSHOT") {
        let png = browser.client.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
    }
    browser.close().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_page_on_another_origin_cannot_change_the_emulator() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    // A page on another origin (another port) posts a form and tries a
    // script call, as a malicious site would.
    let other = Emulator::builder().start().await.unwrap();
    browser
        .client
        .goto(&format!("{}_emulator/health", other.endpoint()))
        .await
        .unwrap();
    let target = format!("{}_emulator", emulator.endpoint());
    let outcome = browser
        .client
        .execute_async(
            r#"
            const [target, done] = arguments;
            const form = document.createElement("form");
            form.method = "POST";
            form.action = target + "/reset";
            form.enctype = "text/plain";
            form.target = "sink";
            const sink = document.createElement("iframe");
            sink.name = "sink";
            document.body.append(sink, form);
            fetch(target + "/faults", {
                method: "PUT",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ faults: "503" }),
            }).then(() => done("fetch went through"), (e) => {
                sink.onload = () => done("blocked: " + e.message);
                form.submit();
            });
            "#,
            vec![serde_json::json!(target)],
        )
        .await
        .unwrap();
    assert!(
        outcome.as_str().unwrap().starts_with("blocked"),
        "{outcome}"
    );
    assert_eq!(emulator.stats().faults, 0);
    let faults = reqwest::get(format!("{target}/faults"))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(faults["faults"], "", "no fault armed");
    // The form's POST reached the emulator but was refused (415).
    let form = emulator
        .requests()
        .into_iter()
        .find(|r| r.path == "/_emulator/reset")
        .expect("the form was sent");
    assert_eq!(form.status, Some(415));
    browser.close().await;
    other.shutdown().await;
    emulator.shutdown().await;
}
