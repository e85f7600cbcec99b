"use strict";

// The UI only renders what the core reports: claims and outcomes, never a token.
const { invoke, Channel } = window.__TAURI__.core;

const screens = ["loading", "not-configured", "signed-out", "signing-in", "signed-in"];
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
  idle: {
    kind: "warn",
    title: "Signed out after inactivity",
    text: "The app signed you out because it was not used for a while. Sign in again to continue.",
  },
  ended_by_organization: {
    kind: "warn",
    title: "Your organization ended this session",
    text: "Okta no longer renews this session: your organization ended it (for example, an administrator signed you out everywhere) or it expired under your organization's rules. Sign in again to continue.",
  },
  identity_changed: {
    kind: "error",
    title: "Signed out for your safety",
    text: "Okta renewed the session for another person, or as another Okta, than the one you signed in to, so the app signed you out. Sign in again; if it happens again, tell your IT administrator.",
  },
  unverified_answer: {
    kind: "error",
    title: "Signed out: Okta's answer could not be verified",
    text: "Okta's answer to renewing your session could not be verified, so the app signed you out. Sign in again; if it happens again, tell your IT administrator.",
  },
  key_refused: {
    kind: "error",
    title: "Signed out: Okta refused this app's key",
    text: "Okta did not accept the proof that this app holds your session's key (DPoP), so the app signed you out. Check that this computer's clock is right, then sign in again; if it happens again, tell your IT administrator.",
  },
  sign_out_resumed: {
    kind: "warn",
    title: "Sign-out finished",
    text: "A sign-out was interrupted when the app stopped; the app finished it. Your browser may still be signed in to Okta.",
  },
};

const OUTCOME_TITLES = {
  completed: ["ok", "Signed out"],
  signed_out_of_app_only: ["ok", "Signed out of this app"],
  timed_out: ["warn", "Okta did not confirm"],
  cancelled: ["warn", "Stopped waiting for Okta"],
  idp_error: ["error", "Okta reported a problem"],
  offline: ["warn", "Signed out while offline"],
  preflight_failed: ["error", "Okta sign-out could not start"],
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
  for (const hint of document.querySelectorAll(".copied")) hint.hidden = true;
  document.documentElement.dataset.reason = view.reason || "";
  switch (view.state) {
    case "signed_out": {
      const reason = view.reason && SIGNED_OUT_REASONS[view.reason];
      if (reason) notify(reason.kind, reason.title, reason.text);
      // No sign-in while a sign-out still talks to Okta.
      $("sign-in").disabled = view.signingOut;
      $("sign-in-another").disabled = view.signingOut;
      $("password-required").hidden = !view.passwordRequired;
      $("signing-out").hidden = !view.signingOut;
      show("signed-out");
      break;
    }
    case "signing_in":
      clearNotice();
      forgetRevokedNotice();
      $("signing-out").hidden = true;
      show("signing-in");
      break;
    case "signed_in": {
      clearNotice();
      forgetRevokedNotice();
      $("signing-out").hidden = true;
      $("sign-out").disabled = false;
      $("sign-out-app-only").disabled = false;
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
  response_issuer: "Sign-in answer refused",
  identity_changed: "Okta answered for another person",
  journal: "The app cannot write its data folder",
  dpop: "The app could not use its DPoP key",
};

function showOutcome(outcome) {
  // A sign-out the app made by itself (a timeout, Okta's refusal) is explained by its reason
  // instead; tokens it could not revoke yet have a notice of their own. Anything else it has
  // to say (the keychain, a configuration to fix) is shown.
  const explainedByReason = ["signed_out_of_app_only", "offline"].includes(outcome.kind);
  if (document.documentElement.dataset.reason && explainedByReason && !outcome.sessionLeftInKeychain) {
    return;
  }
  const [kind, title] = outcome.sessionLeftInKeychain
    ? ["error", "Your keychain kept the session"]
    : OUTCOME_TITLES[outcome.kind] || ["warn", "Signed out"];
  document.documentElement.dataset.outcome = outcome.kind;
  notify(kind, title, outcome.message);
}

function plural(count, one, many) {
  return count === 1 ? one : many.replace("{n}", count);
}

/// When the app tries again, in words: "The app tries again in 4 s."
function nextTry(unixSeconds) {
  const seconds = Math.round(unixSeconds - Date.now() / 1000);
  if (seconds <= 0) return "The app is trying again now.";
  const when = seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
  return `The app tries again in ${when}.`;
}

/// The tokens still to revoke, as the core reports them; `hadTokens` remembers that some
/// waited, so that their end can be told.
let revocations = { waiting: 0, refused: [] };
let hadTokens = false;
let revocationClock = null;

/// "Nothing left to revoke" is news for the signed-out screen, until the next sign-in.
function forgetRevokedNotice() {
  if (revocations.waiting + revocations.refused.length === 0) {
    hadTokens = false;
    renderRevocations(revocations);
  }
}

function renderRevocations(status) {
  revocations = status;
  const box = $("revocations");
  const waiting = status.waiting;
  const refused = status.refused.length;
  document.documentElement.dataset.revocations = waiting + refused > 0 ? "pending" : hadTokens ? "revoked" : "none";
  clearInterval(revocationClock);
  if (waiting + refused === 0) {
    if (hadTokens) {
      box.className = "notice notice-ok";
      $("revocations-title").textContent = "Nothing left to revoke";
      $("revocations-text").textContent =
        "Every token that waited was revoked (or had expired, and Okta no longer takes it).";
      $("retry-revocations").hidden = true;
      box.hidden = false;
    } else {
      box.hidden = true;
    }
    return;
  }
  hadTokens = true;
  const lines = [];
  if (waiting > 0) {
    lines.push(
      plural(waiting, "1 token is", "{n} tokens are") +
        ` not revoked yet (waiting since ${formatTime(status.since)}).`,
    );
    if (status.lastError) lines.push(`Last try: ${status.lastError}.`);
    if (status.nextTry) lines.push(nextTry(status.nextTry));
  }
  for (const token of status.refused) {
    const kind = token.kind === "refresh_token" ? "A refresh token" : "An access token";
    lines.push(`${kind} was not revoked: ${token.reason}.`);
  }
  box.className = `notice ${refused > 0 ? "notice-error" : "notice-warn"}`;
  $("revocations-title").textContent = "Not revoked yet";
  $("revocations-text").textContent = lines.join(" ");
  $("retry-revocations").hidden = false;
  box.hidden = false;
  // The countdown to the next try stays true while the window waits.
  if (status.nextTry) revocationClock = setInterval(() => renderRevocations(revocations), 1000);
}

/// Runs a command from a button, which stays disabled until it is done (no double clicks).
async function run(button, command) {
  clearNotice();
  button.disabled = true;
  try {
    await invoke(command);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

/// The idle timeout counts from the last use of the window; tell the app at most once a minute.
let lastActivity = 0;
function activity() {
  const now = Date.now();
  if (now - lastActivity > 60_000) {
    lastActivity = now;
    invoke("record_activity").catch(() => {});
  }
}

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
  if (info.setup) {
    // No Okta org configured: not an error to show, but what to set up.
    $("setup-config-file").textContent = info.setup.configFile;
    $("setup-redirect-uri").textContent = info.setup.redirectUri;
    $("setup-post-logout-redirect-uri").textContent = info.setup.postLogoutRedirectUri;
    show("not-configured");
    return;
  }
  if (info.startupError) {
    showError(info.startupError);
    show("signed-out");
    return;
  }
  // The app's messages come on a channel of the window's own: it may listen to no event.
  const messages = new Channel();
  messages.onmessage = ({ event, payload }) => {
    if (event === "session-changed") render(payload);
    else if (event === "signed-out") showOutcome(payload);
    else if (event === "revocations-changed") renderRevocations(payload);
  };
  await invoke("watch", { channel: messages });
  // Not run(): the sign-out's outcome stays on screen while the queue is retried.
  $("retry-revocations").addEventListener("click", () => invoke("retry_revocations").catch(showError));
  $("sign-in").addEventListener("click", () => run($("sign-in"), "sign_in"));
  $("sign-in-another").addEventListener("click", () =>
    run($("sign-in-another"), "sign_in_with_another_account"),
  );
  $("sign-out").addEventListener("click", () => {
    $("sign-out-app-only").disabled = true;
    run($("sign-out"), "sign_out");
  });
  $("sign-out-app-only").addEventListener("click", () => {
    $("sign-out").disabled = true;
    run($("sign-out-app-only"), "sign_out_app_only");
  });
  $("cancel-sign-in").addEventListener("click", () => invoke("cancel"));
  // For a browser that did not open, or a page closed too soon. Neither link holds a token.
  for (const button of document.querySelectorAll(".open-again")) {
    button.addEventListener("click", () => invoke("open_browser_again").catch(showError));
  }
  for (const button of document.querySelectorAll(".copy-link")) {
    button.addEventListener("click", async () => {
      try {
        const link = await invoke("copy_browser_link");
        if (!link) return;
        await navigator.clipboard.writeText(link);
        for (const hint of document.querySelectorAll(".copied")) hint.hidden = false;
      } catch (error) {
        showError(error);
      }
    });
  }
  $("cancel-sign-out").addEventListener("click", () => invoke("cancel"));
  for (const type of ["pointerdown", "keydown"]) {
    window.addEventListener(type, activity, { passive: true });
  }
  invoke("revocation_status").then(renderRevocations, showError);
  try {
    render(await invoke("session_state"));
  } catch (error) {
    // E.g. a locked keychain: say so, and let the person try again once it is fixed.
    render({ state: "signed_out", reason: null, signingOut: false, passwordRequired: false });
    showError(error);
  }
}

start().finally(() => {
  document.documentElement.dataset.ready = "true";
});
