// Status: signed in or not, the server and address in use, the refresh
// queue, the last error in words and when it happened.
import { h, replace, when } from './dom.js';
import { current, title } from './profiles.js';

// A sign-in that cannot be used until the user acts: plex.tv refuses the
// token, or the token cannot be decrypted here.
export const dead = (account) => account.state === 'rejected' || account.state === 'unreadable';

export function render(el, ctx) {
  const s = ctx.status;
  if (!s) return;
  const account = s.account || {};
  const rows = [];
  const fact = (term, ...value) => rows.push(h('dt', {}, term), h('dd', {}, ...value));
  // Several profiles: which one this page shows.
  const here = ctx.profiles?.list.length > 1 ? current(ctx) : null;
  if (here) fact('Profile', title(here));
  fact('Plex', s.enabled ? 'On' : 'Off');
  if (s.auth_method === 'apikey') {
    fact('Account', 'Legacy mode: address and token typed by hand');
  } else if (s.signed_in) {
    const cls = dead(account) ? 'bad' : account.state === 'ok' ? 'ok' : '';
    fact('Account', h('span', { class: cls }, s.username ? `Signed in as ${s.username}` : 'Signed in'));
    if (account.token_expires_at) fact('Token', `short-lived, renewed before it ends (${when(account.token_expires_at)})`);
  } else {
    fact('Account', 'Not signed in');
  }
  if (s.server?.name) {
    fact('Server', s.server.name, s.server.owned ? null : [' ', h('span', { class: 'chip' }, 'shared')]);
    fact('Address in use', s.server.url || '—', s.server.url ? ` (${s.server.local ? 'local' : 'remote'})` : '');
  } else if (s.signed_in) {
    fact('Server', 'None chosen yet');
  }
  if (s.queue) fact('Refreshes', s.queue.message);
  if (s.refresh && !s.refresh.available && s.refresh.why) fact('', h('span', { class: 'warn' }, s.refresh.why));
  if (s.last_error) fact('Last error', h('span', { class: 'bad' }, s.last_error.message), ` (${when(s.last_error.at)})`);
  const out = [h('dl', { class: 'facts' }, rows)];
  if (s.signed_in && dead(account)) {
    out.push(h('div', { class: 'notice bad', role: 'alert' },
      h('p', {}, account.message || 'The saved sign-in cannot be used.'),
      h('button', { type: 'button', class: 'primary', onclick: () => document.dispatchEvent(new Event('pb-sign-in')) },
        'Sign in again')));
  }
  replace(el, out);
}
