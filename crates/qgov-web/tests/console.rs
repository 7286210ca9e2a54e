//! Console security checks over plain HTTP (the browser tests cover the pages).

use qgov_domain::Role;
use qgov_store::{Actor, Engine, NewUser, Store, testing};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

async fn spawn() -> (String, Store) {
    let url = testing::fresh_database(Engine::Sqlite).await;
    let store = Store::connect(&url).await.unwrap();
    let new = NewUser {
        username: "admin".into(),
        password: "admin-password".into(),
        role: Role::Admin,
        department_id: None,
        entity_id: None,
    };
    store.create_user(&Actor::system(), &new).await.unwrap();
    let app = qgov_web::Application::bind("127.0.0.1:0", store.clone(), qgov_web::Config::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    (base, store)
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test]
async fn login_needs_the_form_token_and_sets_a_hardened_session_cookie() {
    let (base, store) = spawn().await;
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let form = [("username", "admin"), ("password", "admin-password"), ("next", "/console")];

    // A cross-site post has no token cookie: refused, no session.
    let res = http.post(format!("{base}/console/login")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res, "qgov_session").is_none());

    // The form page sets the token cookie; posting it with the same token signs in.
    let res = http.get(format!("{base}/console/login")).send().await.unwrap();
    let cookie = set_cookie(&res, "qgov_login_csrf").expect("token cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains(&token), "the form carries the token");

    let mut with_token = form.to_vec();
    with_token.push(("csrf", "0000"));
    let res = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("qgov_login_csrf={token}"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a token that does not match the cookie is refused");

    with_token.pop();
    with_token.push(("csrf", token.as_str()));
    let res = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("qgov_login_csrf={token}"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let session = set_cookie(&res, "qgov_session").expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");

    // The session opens the console; without it the console redirects to the login page.
    let sid = session.split(';').next().unwrap().to_owned();
    let res = http.get(format!("{base}/console")).header("cookie", &sid).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http.get(format!("{base}/console")).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/console/login"));

    // An admin deactivates another account from the users page; its token stops working.
    let ent = NewUser {
        username: "clerk".into(),
        password: "clerk-password".into(),
        role: Role::Regulator,
        department_id: Some(1),
        entity_id: None,
    };
    let clerk = store.create_user(&Actor::system(), &ent).await.unwrap();
    let (_, clerk_token) = store.create_token(&Actor::system(), clerk.id, "t").await.unwrap();
    let page =
        http.get(format!("{base}/console/users")).header("cookie", &sid).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let res = http
        .post(format!("{base}/console/users/{}/active", clerk.id))
        .header("cookie", &sid)
        .form(&[("csrf", csrf.as_str()), ("active", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!store.user_by_id(clerk.id).await.unwrap().active);
    assert!(store.user_by_token(&clerk_token).await.unwrap().is_none());

    // A console form post without the session's CSRF token is refused.
    let res = http
        .post(format!("{base}/console/logout"))
        .header("cookie", &sid)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        http.get(format!("{base}/console")).header("cookie", &sid).send().await.unwrap().status(),
        StatusCode::OK
    );
}
