//! Off `wasm32` (the server half of an SSR app), `Client` and its types exist and the client is
//! a stand-in: its view stays `Loading`, it touches nothing, and every action fails with
//! `unsupported`. Native only: in the browser the real client runs.
#![cfg(not(target_arch = "wasm32"))]

use oidc_session::{
    Client, ConfigInput, ErrorKind, Mode, SignInOptions, SignOutOptions, Status, View,
};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Polls a future that must be ready at once (the stand-in never waits).
fn now<T>(f: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the stand-in never waits"),
    }
}

fn client(mode: Mode) -> Client {
    Client::new(ConfigInput {
        issuer: "https://login.example.com".into(),
        client_id: "app".into(),
        redirect_uri: "https://app.example.com/".into(),
        mode,
        ..Default::default()
    })
    .expect("the stand-in accepts any configuration")
}

#[test]
fn the_view_stays_loading_and_actions_are_unsupported() {
    for mode in [Mode::Browser, Mode::Server] {
        let c = client(mode);
        assert_eq!(c.mode(), mode);
        let calls = Rc::new(Cell::new(0));
        let seen = calls.clone();
        let _sub = c.subscribe(move |_: &Rc<View>| seen.set(seen.get() + 1));

        let view = now(c.bootstrap());
        assert_eq!(view.status, Status::Loading);
        assert!(view.user.is_none() && view.error.is_none());
        assert!(Rc::ptr_eq(&view, &c.view()), "no new view was published");
        assert_eq!(now(c.retry()).status, Status::Loading);

        let unsupported = |r: Result<(), oidc_session::Error>| {
            let e = r.expect_err("an action of the stand-in");
            assert!(matches!(e.kind(), ErrorKind::Unsupported { .. }), "{e:?}");
            assert_eq!(e.code(), "unsupported");
        };
        unsupported(now(c.sign_in(SignInOptions::default())));
        unsupported(now(c.sign_in_silently()));
        unsupported(now(c.sign_out(SignOutOptions::default())).map(|_| ()));
        unsupported(now(c.access_token()).map(|_| ()));
        unsupported(now(c.fetch_with(true, || async { Ok(((), 200)) })));
        unsupported(oidc_session::handle_silent_callback());
        assert!(c.csrf_header().is_none());
        assert_eq!(calls.get(), 0, "listeners never called");
        assert!(format!("{c:?}").contains("Loading"));
    }
}
