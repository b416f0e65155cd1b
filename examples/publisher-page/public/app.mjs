// Loads the EUID SDK (served by the publisher backend from node_modules), shows the current
// identity, and drives the two flows. window.pageState is what the browser test reads.
import '/sdk/euidSdk.mjs';

const $ = (id) => document.getElementById(id);
const config = await (await fetch('/config')).json();
const params = new URLSearchParams(location.search);
const refreshRetryPeriod = Number(params.get('refreshRetryPeriod') ?? 5000);

const state = { events: [], refreshes: 0, errors: [], identity: null, status: null };
window.pageState = state;

function time(ms) {
  return ms ? `${new Date(ms).toISOString()} (${Math.round((ms - Date.now()) / 1000)} s from now)` : '—';
}

function render(status) {
  const sdk = window.__euid;
  const identity = sdk.getIdentity();
  state.identity = identity ?? null;
  state.status = status;
  $('status').textContent = status;
  $('token').textContent = identity?.advertising_token ?? '—';
  $('expires').textContent = time(identity?.identity_expires);
  $('refresh-from').textContent = time(identity?.refresh_from);
  $('refreshes').textContent = String(state.refreshes);
}

function log(line) {
  state.events.push(line);
  const div = document.createElement('div');
  div.textContent = `${new Date().toISOString().slice(11, 19)} ${line}`;
  $('log').prepend(div);
}

$('operator').textContent = config.operatorUrl;
const sdk = window.__euid;
sdk.callbacks.push((eventType, payload) => {
  if (eventType === 'SdkLoaded') return;
  const token = payload?.identity?.advertising_token;
  // A new token that this page did not set itself is the SDK's own refresh.
  if (token && state.identity?.advertising_token && token !== state.identity.advertising_token && !state.settingOwn) {
    state.refreshes += 1;
  }
  const statusText = token ? 'identity available' : (sdk.isLoginRequired() ? 'login required' : 'no identity');
  log(`${eventType}: ${statusText}${token && state.refreshes ? ` (refreshes: ${state.refreshes})` : ''}`);
  render(statusText);
});
sdk.init({ baseUrl: config.operatorUrl, refreshRetryPeriod });

$('server-side').addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = new FormData(e.target).get('email');
  const res = await fetch('/login', { method: 'POST', body: JSON.stringify({ email }) });
  const json = await res.json();
  if (json.status !== 'success') {
    state.errors.push(`server-side: ${JSON.stringify(json)}`);
    return log(`server-side generate failed: ${JSON.stringify(json)}`);
  }
  state.settingOwn = true;
  sdk.setIdentity(json.body);
  state.settingOwn = false;
});

$('client-side').addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = new FormData(e.target).get('email');
  state.settingOwn = true;
  try {
    await sdk.setIdentityFromEmail(email, {
      subscriptionId: config.subscriptionId,
      serverPublicKey: config.serverPublicKey,
    });
  } catch (err) {
    state.errors.push(String(err?.message ?? err));
    log(`client-side generate failed: ${err?.message ?? err}`);
  } finally {
    state.settingOwn = false;
  }
});

$('logout').addEventListener('click', () => {
  sdk.disconnect();
  render('logged out');
});
