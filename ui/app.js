"use strict";

// The UI only renders what the core reports: claims and outcomes, never a token.
const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const screens = ["loading", "signed-out", "signing-in", "signed-in"];
const $ = (id) => document.getElementById(id);

const SIGNED_OUT_REASONS = {
  ended_elsewhere: {
    kind: "warn",
    title: "Your session ended",
    text: "Okta no longer accepts your saved session (it was signed out or revoked elsewhere). Sign in again to continue.",
  },
  expired: {
    kind: "warn",
    title: "Your session expired",
    text: "The app signed you out because the session reached its time limit. Sign in again to continue.",
  },
};

function show(screen) {
  for (const name of screens) {
    $(`screen-${name}`).hidden = name !== screen;
  }
}

function notify(kind, title, text) {
  const notice = $("notice");
  notice.className = `notice notice-${kind}`;
  $("notice-title").textContent = title;
  $("notice-text").textContent = text;
  notice.hidden = false;
}

function clearNotice() {
  $("notice").hidden = true;
}

function formatTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

function render(view) {
  document.documentElement.dataset.session = view.state;
  switch (view.state) {
    case "signed_out": {
      const reason = view.reason && SIGNED_OUT_REASONS[view.reason];
      if (reason) notify(reason.kind, reason.title, reason.text);
      $("sign-in").disabled = false;
      show("signed-out");
      break;
    }
    case "signing_in":
      clearNotice();
      show("signing-in");
      break;
    case "signed_in": {
      clearNotice();
      const user = view.user;
      $("user-name").textContent = user.name || user.username || user.subject;
      $("user-email").textContent = user.email || "—";
      $("session-expiry").textContent = view.expiresAt
        ? `Until ${formatTime(view.expiresAt)}`
        : "Until you sign out";
      show("signed-in");
      break;
    }
  }
}

const ERROR_TITLES = {
  cancelled: "Sign-in cancelled",
  timed_out: "Your browser did not come back",
  idp_error: "Okta did not sign you in",
  keychain_unavailable: "Your keychain is not available",
  discovery: "Okta cannot be reached",
  network: "Okta cannot be reached",
  configuration: "The app is not configured correctly",
};

function showError(error) {
  const title = ERROR_TITLES[error.code] || "Something went wrong";
  notify(error.code === "cancelled" ? "warn" : "error", title, error.message);
}

async function start() {
  const info = await invoke("app_info");
  if (info.demo) {
    const banner = $("demo-banner");
    banner.textContent = `Demo mode: mock Okta at ${info.demo.browserUrl} — sign in as ${info.demo.username} / ${info.demo.password}`;
    banner.hidden = false;
  }
  if (info.startupError) {
    showError(info.startupError);
    show("signed-out");
    return;
  }
  await listen("session-changed", (event) => render(event.payload));
  $("sign-in").addEventListener("click", async () => {
    clearNotice();
    $("sign-in").disabled = true;
    try {
      await invoke("sign_in");
    } catch (error) {
      showError(error);
    } finally {
      $("sign-in").disabled = false;
    }
  });
  $("cancel-sign-in").addEventListener("click", () => invoke("cancel_sign_in"));
  try {
    render(await invoke("session_state"));
  } catch (error) {
    showError(error);
    show("signed-out");
  }
}

start().finally(() => {
  document.documentElement.dataset.ready = "true";
});
