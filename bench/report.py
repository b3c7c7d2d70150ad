#!/usr/bin/python3
"""Turns the benchmarks' records into the tables of docs/performance.md.

    bench/report.py RESULTS_DIR [--write docs/performance.md] [--svg docs/performance-growth.svg]

Every benchmark prints, for each case it measures, one line
`@bench {"table": T, "key": {...}, "values": {...}}`; bench/run-all.sh runs
each benchmark several times and keeps their output in RESULTS_DIR (plus
Google Benchmark's JSON for the webhook handler, and machine.txt). A value
is reported as the median over the runs, with the min-max range when the
runs differ. Ratios are taken between medians of the same run set.

The tables replace what lies between `<!-- bench:NAME -->` and
`<!-- /bench:NAME -->` in the document; everything else (the prose) is kept.
Standard library only: Debian's /usr/bin/python3 runs it.
"""
import glob
import json
import math
import os
import re
import statistics
import sys
from collections import OrderedDict, defaultdict


# ------------------------------------------------------------------ reading

def read_records(results):
    """{table: OrderedDict{key_json: {field: [values over runs]}}}"""
    tables = defaultdict(OrderedDict)
    for path in sorted(glob.glob(os.path.join(results, '*.txt'))):
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                if not line.startswith('@bench '):
                    continue
                try:
                    rec = json.loads(line[7:])
                except ValueError:
                    continue
                key = json.dumps(rec.get('key', {}), sort_keys=True)
                row = tables[rec['table']].setdefault(key, {'key': rec.get('key', {}), 'values': defaultdict(list)})
                for name, v in rec.get('values', {}).items():
                    row['values'][name].append(v)
    for path in sorted(glob.glob(os.path.join(results, 'handler.*.json'))):
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        for b in data.get('benchmarks', []):
            if b.get('run_type') == 'aggregate' and b.get('aggregate_name') != 'median':
                continue
            if b.get('error_occurred'):  # n/a in the table, said on the console
                print(f"report: {b['name']} failed: {b.get('error_message')}", file=sys.stderr)
                continue
            name, _, arg = b['name'].partition('/')
            arg = arg.split('/')[0]
            key = json.dumps({'benchmark': name, 'arg': arg}, sort_keys=True)
            row = tables['webhook_handler'].setdefault(key, {'key': {'benchmark': name, 'arg': arg},
                                                              'values': defaultdict(list)})
            scale = {'ns': 1e-3, 'us': 1.0, 'ms': 1e3}[b.get('time_unit', 'ns')]
            row['values']['us'].append(b['real_time'] * scale)
    return tables


def rows(tables, table, **match):
    out = []
    for row in tables.get(table, {}).values():
        if all(row['key'].get(k) == v for k, v in match.items()):
            out.append(row)
    return out


def med(row, field):
    v = [x for x in row['values'].get(field, []) if isinstance(x, (int, float))]
    return statistics.median(v) if v else None


def common(row, field):
    """The most frequent string value (what was chosen, say)."""
    v = row['values'].get(field, [])
    return max(set(v), key=v.count) if v else None


# ------------------------------------------------------------------ formatting

def num(x, unit=''):
    """Three significant digits (no fewer than the integer part), and the unit."""
    if x is None:
        return 'n/a'
    if unit == 'rps':
        return f'{x / 1000:.1f}k req/s' if x >= 1000 else f'{x:.0f} req/s'
    if unit == 'us':
        unit = 'µs'
    if abs(x) >= 100 or float(x).is_integer():
        s = f'{x:,.0f}'
    elif abs(x) >= 10:
        s = f'{x:.1f}'
    elif abs(x) >= 1:
        s = f'{x:.2f}'
    else:
        s = f'{x:.3f}'
    return f'{s} {unit}' if unit else s


def cell(row, field, unit=''):
    """median, and (min-max) over the runs when they differ."""
    if row is None:
        return 'n/a'
    v = [x for x in row['values'].get(field, []) if isinstance(x, (int, float))]
    if not v:
        return 'n/a'
    m = statistics.median(v)
    if len(v) > 1 and min(v) != max(v):
        bare = (lambda x: f'{x / 1000:.1f}k' if x >= 1000 else f'{x:.0f}') if unit == 'rps' else num
        return f'{num(m, unit)} ({bare(min(v))}–{bare(max(v))})'
    return num(m, unit)


def ratio(a, b, digits=1):
    if a is None or b is None or b == 0:
        return 'n/a'
    return f'{a / b:.{digits}f}x'


def pct(a, b):
    if a is None or b is None or b == 0:
        return 'n/a'
    return f'{100 * a / b:.0f}%'


def table(header, body):
    out = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    out += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in body]
    return '\n'.join(out)


# ------------------------------------------------------------------ the tables

def t_discovery_topology(t):
    body = []
    for r in sorted(rows(t, 'discovery_topology'), key=lambda r: r['key']['connections']):
        k = r['key']
        body.append([k['connections'], f"{k['refused']} / {k['silent']}",
                     cell(r, 'choice_ms', 'ms'), common(r, 'choice'), cell(r, 'all_probes_ms', 'ms'),
                     cell(r, 'five_choice_ms', 'ms'), cell(r, 'five_all_probes_ms', 'ms'),
                     cell(r, 'ctrl_plex_ms', 'ms'), common(r, 'ctrl_plex_choice') or 'n/a',
                     ratio(med(r, 'five_all_probes_ms'), med(r, 'all_probes_ms'))])
    return table(['connections', 'refused / silent', 'plexbridge: choice', 'chose', 'plexbridge: all probes',
                  'five at a time: choice', 'five at a time: all probes', '@ctrl/plex: connected', '@ctrl/plex chose',
                  'all probes, five at a time / plexbridge'], body)


def t_discovery_lan_silent(t):
    body = []
    for r in sorted(rows(t, 'discovery_lan_silent'), key=lambda r: (r['key'].get('lan') != 'unreachable', r['key']['connections']),
                    reverse=False):
        k = r['key']
        body.append([k['connections'], f"{k['silent']} ({k.get('lan', 'silent')})", cell(r, 'choice_ms', 'ms'),
                     common(r, 'choice'),
                     cell(r, 'waiting_deadline_ms', 'ms'), ratio(med(r, 'waiting_deadline_ms'), med(r, 'choice_ms')),
                     cell(r, 'ctrl_plex_ms', 'ms'), common(r, 'ctrl_plex_choice') or 'n/a',
                     ratio(med(r, 'choice_ms'), med(r, 'ctrl_plex_ms'), 2)])
    return table(['connections', 'LAN addresses', 'plexbridge: choice', 'chose', 'waiting the deadline',
                  'deadline / plexbridge', '@ctrl/plex: connected', '@ctrl/plex chose', 'plexbridge / @ctrl/plex'],
                 body)


def t_discovery_servers(t):
    body = []
    for r in sorted(rows(t, 'discovery_servers'), key=lambda r: r['key']['servers']):
        n = r['key']['servers']
        local = med(r, 'servers_local_chosen')
        peer_local = med(r, 'ctrl_plex_servers_local_chosen')
        body.append([n, cell(r, 'choice_ms', 'ms'), f'{local:.0f} of {n}' if local is not None else 'n/a',
                     cell(r, 'all_probes_ms', 'ms'), cell(r, 'five_choice_ms', 'ms'), cell(r, 'ctrl_plex_ms', 'ms'),
                     f'{peer_local:.0f} of {n}' if peer_local is not None else 'n/a'])
    return table(['servers', 'plexbridge: every choice', 'local chosen', 'plexbridge: all probes',
                  'five at a time: every choice', '@ctrl/plex: every server connected', '@ctrl/plex: local'], body)


def t_servers_route(t):
    body = []
    for r in rows(t, 'servers_route'):
        body.append([r['key']['case'], cell(r, 'first_answer_ms', 'ms'),
                     'yes' if med(r, 'every_server_chosen') == 1 else '**no**',
                     cell(r, 'every_outcome_ms', 'ms'), cell(r, 'asked_again_ms', 'ms')])
    return table(['topology', 'first answer', 'names every choice', 'every outcome (polls)',
                  'asked again (reused)'], body)


def t_resources_parse(t):
    body = []
    for r in sorted(rows(t, 'resources_parse'), key=lambda r: (r['key']['servers'], r['key']['format'])):
        k = r['key']
        body.append([k['servers'], k['format'].upper(), num(med(r, 'bytes') / 1024, 'KiB'),
                     cell(r, 'parse_us', 'us'), cell(r, 'floor_us', 'us'),
                     ratio(med(r, 'parse_us'), med(r, 'floor_us'), 2), cell(r, 'per_server_us', 'us')])
    return table(['servers', 'format', 'answer', 'plexbridge: read', 'floor: document only',
                  'plexbridge / floor', 'per server'], body)


def t_webhooks(t):
    body = []
    keys = sorted({(r['key']['thumb'], r['key']['conns']) for r in rows(t, 'webhooks')}, key=lambda k: (not k[0], k[1]))
    for thumb, conns in keys:
        ours = next(iter(rows(t, 'webhooks', server='plexbridge', conns=conns, thumb=thumb)), None)
        nginx = next(iter(rows(t, 'webhooks', server='nginx', conns=conns, thumb=thumb)), None)
        flask = next(iter(rows(t, 'webhooks', server='flask', conns=conns, thumb=thumb)), None)
        errors = sum(med(r, 'errors') or 0 for r in (ours, nginx, flask) if r)
        body.append([conns, '20 KB' if thumb else 'none', cell(ours, 'rps', 'rps'),
                     f"{cell(ours, 'p50_ms', 'ms')} / {cell(ours, 'p99_ms', 'ms')}",
                     cell(nginx, 'rps', 'rps'), cell(flask, 'rps', 'rps'),
                     f"{cell(flask, 'p50_ms', 'ms')} / {cell(flask, 'p99_ms', 'ms')}" if flask else 'n/a',
                     pct(med(ours, 'rps') if ours else None, med(nginx, 'rps') if nginx else None),
                     ratio(med(ours, 'rps') if ours else None, med(flask, 'rps') if flask else None, 0),
                     f'{errors:.0f}',
                     f"{cell(ours, 'rss_before_mib', 'MiB')} → {cell(ours, 'rss_after_mib', 'MiB')}" if ours else 'n/a'])
    return table(['connections', 'thumbnail', 'plexbridge-host', 'p50 / p99', 'nginx, static 200',
                  'Flask receiver', 'Flask p50 / p99', 'host / nginx', 'host / Flask', 'errors', 'host RSS before → after'],
                 body)


HANDLER_NAMES = OrderedDict([
    ('BM_PluginWebhookHandler', '**handler** (everything)'),
    ('BM_BaselineJsonParseOnly', 'baseline: `boost::json::parse` (DOM)'),
    ('BM_BaselineSaxNullParse', 'baseline: Boost.JSON SAX parser keeping nothing'),
    ('BM_PayloadReaderOnly', 'payload reader alone'),
    ('BM_MultipartOnly', 'multipart parse alone'),
])


def t_webhook_handler(t):
    body = []
    for name, label in HANDLER_NAMES.items():
        pretty = next(iter(rows(t, 'webhook_handler', benchmark=name, arg='0')), None) or \
            next(iter(rows(t, 'webhook_handler', benchmark=name, arg='')), None)
        compact = next(iter(rows(t, 'webhook_handler', benchmark=name, arg='1')), None)
        body.append([label, cell(pretty, 'us', 'us'), cell(compact, 'us', 'us') if compact else ''])
    return table(['benchmark', 'stored capture (pretty)', 'compact, as Plex sends'], body)


def t_index_growth(t):
    body = []
    for r in sorted(rows(t, 'index_growth'), key=lambda r: r['key']['items']):
        n = r['key']['items']
        body.append([f"{n:,}", f"{med(r, 'movies'):,.0f} + {med(r, 'shows'):,.0f} + {med(r, 'episodes'):,.0f}",
                     f"{med(r, 'pms_requests'):,.0f}", num(med(r, 'pms_bytes') / 2 ** 20, 'MiB'),
                     cell(r, 'build_ms', 'ms'), cell(r, 'index_mib', 'MiB'), num(med(r, 'b_per_item'), 'B'),
                     cell(r, 'movie_lookup_ns', 'ns'), cell(r, 'episode_lookup_ns', 'ns'),
                     cell(r, 'baseline_index_mib', 'MiB'), num(med(r, 'baseline_b_per_item'), 'B'),
                     cell(r, 'baseline_lookup_ns', 'ns'),
                     ratio(med(r, 'baseline_index_mib'), med(r, 'index_mib'))])
    return table(['items', 'movies + shows + episodes', 'PMS requests', 'transferred', 'build (parse + index)',
                  'index', 'per item', 'lookup: movie', 'lookup: episode', 'string maps: index', 'per item',
                  'lookup', 'string maps / compact'], body)


def t_refresh_coalescing(t):
    body = []
    for r in rows(t, 'refresh_coalescing'):
        body.append([f"{med(r, 'events'):,.0f} over {r['key']['items']} items in {num(med(r, 'fire_ms'), 'ms')}",
                     cell(r, 'refreshes'), cell(r, 'pms_requests'), cell(r, 'latency_p50_ms', 'ms'),
                     cell(r, 'latency_p99_ms', 'ms'), cell(r, 'unrefreshed_events'),
                     cell(r, 'pms_requests_per_event'), cell(r, 'pms_requests_per_episode_event')])
    return table(['events', 'refreshes (target ≤ items)', 'PMS requests', 'event → refresh p50', 'p99',
                  'events never refreshed', 'PMS requests per event, movie seen before (target ≤ 2)',
                  'episode seen before'], body)


REFRESH_CASES = OrderedDict([
    ('first_movie', 'first movie of the session (lists the sections, movies and shows; then refresh + added date)'),
    ('indexed_movie', 'a movie already indexed (refresh + added date)'),
    ('first_episode', 'first episode of a show (`/allLeaves`, then refresh)'),
    ('next_episode', 'next episode of that show (refresh)'),
])


def t_refresh_events(t):
    body = []
    for case, label in REFRESH_CASES.items():
        r = next(iter(rows(t, 'refresh_events', case=case)), None)
        body.append([label, cell(r, 'pms_requests'), cell(r, 'latency_ms', 'ms')])
    r = next(iter(rows(t, 'refresh_events', case='on_event')), None)
    body.append(['the host\'s `on_event` call itself (parse, hand to the io thread; target under 1 ms)', '',
                 cell(r, 'on_event_us', 'us')])
    return table(['event', 'PMS requests', 'event → refresh'], body)


def t_footprint(t):
    body = []
    for r in rows(t, 'footprint'):
        unit = common(r, 'unit') or ''
        body.append([r['key']['measure'], cell(r, 'value', unit), common(r, 'target') or ''])
    return table(['measure', 'plexbridge', 'target'], body)


def generic(t, name):
    rs = rows(t, name)
    if not rs:
        return '(no figures: the benchmark did not run)'
    keys = list(OrderedDict.fromkeys(k for r in rs for k in r['key']))
    values = list(OrderedDict.fromkeys(v for r in rs for v in r['values']))

    def unit(field):
        for suffix, u in (('_ms', 'ms'), ('_us', 'us'), ('_ns', 'ns'), ('_mib', 'MiB'), ('_rps', 'rps'),
                          ('_bytes', 'B'), ('_b_per_item', 'B')):
            if field.endswith(suffix):
                return u
        return ''

    def label(field):
        for suffix in ('_ms', '_us', '_ns', '_mib', '_rps', '_bytes', '_b_per_item'):
            if field.endswith(suffix):
                return field[:-len(suffix)].replace('_', ' ') + (' (B/item)' if suffix == '_b_per_item' else
                                                                  ' (bytes)' if suffix == '_bytes' else '')
        return field.replace('_', ' ')

    body = []
    for r in rs:
        line = [r['key'].get(k, '') for k in keys]
        for v in values:
            if any(isinstance(x, str) for x in r['values'].get(v, [])):
                line.append(common(r, v) or '')
            else:
                line.append(cell(r, v, unit(v)))
        body.append(line)
    return table([k.replace('_', ' ') for k in keys] + [label(v) for v in values], body)


RENDER = {
    'discovery_topology': t_discovery_topology,
    'discovery_lan_silent': t_discovery_lan_silent,
    'discovery_servers': t_discovery_servers,
    'servers_route': t_servers_route,
    'resources_parse': t_resources_parse,
    'webhooks': t_webhooks,
    'webhook_handler': t_webhook_handler,
    'footprint': t_footprint,
    'index_growth': t_index_growth,
    'refresh_coalescing': t_refresh_coalescing,
    'refresh_events': t_refresh_events,
}


def render(tables, name, results):
    if name == 'machine':
        path = os.path.join(results, 'machine.txt')
        return open(path, encoding='utf-8').read().strip() if os.path.exists(path) else '(unknown machine)'
    if name in RENDER:
        if not tables.get(name):
            return '(no figures: the benchmark did not run)'
        return RENDER[name](tables)
    return generic(tables, name)


# ------------------------------------------------------------------ the plot

def svg_plot(tables):
    """Growth curves, log-log, one panel per cost (standard library only)."""
    panels = []

    def series(table, xkey, field, label, **match):
        pts = []
        for r in rows(tables, table, **match):
            x, y = r['key'].get(xkey), med(r, field)
            if isinstance(x, (int, float)) and y is not None and y > 0:
                pts.append((x, y))
        return (label, sorted(pts)) if pts else None

    panels.append(('Discovery: time to every choice (ms) by servers', 'servers', [
        series('discovery_servers', 'servers', 'choice_ms', 'plexbridge'),
        series('discovery_servers', 'servers', 'ctrl_plex_ms', '@ctrl/plex'),
        series('discovery_servers', 'servers', 'five_choice_ms', 'five at a time')]))
    panels.append(('Reading plex.tv resources (µs) by servers', 'servers', [
        series('resources_parse', 'servers', 'parse_us', 'JSON', format='json'),
        series('resources_parse', 'servers', 'parse_us', 'XML', format='xml')]))
    panels.append(('Library index memory (MiB) by items', 'items', [
        series('index_growth', 'items', 'index_mib', 'plexbridge'),
        series('index_growth', 'items', 'baseline_index_mib', 'string maps (before)')]))
    panels.append(('Library index build (ms) by items', 'items', [
        series('index_growth', 'items', 'build_ms', 'parse + index')]))
    panels.append(('Webhooks through the host (req/s) by connections', 'connections', [
        series('webhooks', 'conns', 'rps', 'plexbridge-host', server='plexbridge', thumb=True),
        series('webhooks', 'conns', 'rps', 'nginx, static 200', server='nginx', thumb=True),
        series('webhooks', 'conns', 'rps', 'Flask', server='flask', thumb=True)]))
    panels = [(title, xl, [s for s in ss if s]) for title, xl, ss in panels]
    panels = [p for p in panels if p[2]]
    if not panels:
        return None

    W, H, cols = 420, 260, 2
    rows_n = (len(panels) + cols - 1) // cols
    colours = ['#1f6feb', '#d1495b', '#2e933c', '#8e6c8a']
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * cols}" height="{H * rows_n}" '
           f'font-family="DejaVu Sans, sans-serif" font-size="11">',
           f'<rect width="{W * cols}" height="{H * rows_n}" fill="#fff"/>']

    def esc(s):
        return s.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')

    for i, (title, xlabel, ss) in enumerate(panels):
        ox, oy = (i % cols) * W, (i // cols) * H
        left, right, top, bottom = ox + 55, ox + W - 25, oy + 30, oy + H - 55
        xs = [x for _, pts in ss for x, _ in pts]
        ys = [y for _, pts in ss for _, y in pts]
        x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
        y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)

        def px(x):
            return left + (math.log10(x) - x0) / (x1 - x0) * (right - left)

        def py(y):
            return bottom - (math.log10(y) - y0) / (y1 - y0) * (bottom - top)

        out.append(f'<text x="{ox + 10}" y="{oy + 18}" font-weight="bold">{esc(title)}</text>')
        out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#999"/>')
        for e in range(x0, x1 + 1):
            out.append(f'<line x1="{px(10 ** e):.1f}" y1="{top}" x2="{px(10 ** e):.1f}" y2="{bottom}" stroke="#eee"/>')
            out.append(f'<text x="{px(10 ** e):.1f}" y="{bottom + 14}" text-anchor="middle">{num(10 ** e)}</text>')
        for e in range(y0, y1 + 1):
            out.append(f'<line x1="{left}" y1="{py(10 ** e):.1f}" x2="{right}" y2="{py(10 ** e):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 5}" y="{py(10 ** e) + 4:.1f}" text-anchor="end">{num(10.0 ** e)}</text>')
        out.append(f'<text x="{(left + right) / 2:.0f}" y="{bottom + 28}" text-anchor="middle">{esc(xlabel)} (log)</text>')
        for k, (label, pts) in enumerate(ss):
            c = colours[k % len(colours)]
            path = ' '.join(f'{px(x):.1f},{py(y):.1f}' for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
            for x, y in pts:
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
            lx = left + k * 120
            out.append(f'<rect x="{lx}" y="{bottom + 36}" width="10" height="10" fill="{c}"/>')
            out.append(f'<text x="{lx + 14}" y="{bottom + 45}">{esc(label)}</text>')
    out.append('</svg>')
    return '\n'.join(out) + '\n'


# ------------------------------------------------------------------ main

def main(argv):
    if len(argv) < 2 or argv[1].startswith('-'):
        print(__doc__, file=sys.stderr)
        return 2
    results, doc, svg = argv[1], None, None
    i = 2
    while i < len(argv):
        if argv[i] == '--write' and i + 1 < len(argv):
            doc = argv[i + 1]
            i += 2
        elif argv[i] == '--svg' and i + 1 < len(argv):
            svg = argv[i + 1]
            i += 2
        else:
            print(__doc__, file=sys.stderr)
            return 2
    tables = read_records(results)
    if not tables:
        print(f'report: no @bench records in {results}', file=sys.stderr)
        return 1
    if doc:
        text = open(doc, encoding='utf-8').read()
        marker = re.compile(r'(<!-- bench:([a-z_]+) -->\n)(.*?)(<!-- /bench:\2 -->)', re.S)
        seen = []

        def replace(m):
            seen.append(m.group(2))
            return m.group(1) + render(tables, m.group(2), results) + '\n' + m.group(4)

        text = marker.sub(replace, text)
        with open(doc + '.tmp', 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(doc + '.tmp', doc)
        missing = sorted(set(tables) - set(seen))
        print(f'report: rewrote {len(seen)} tables in {doc}' +
              (f'; no place in it for: {", ".join(missing)}' if missing else ''))
    else:
        for name in sorted(tables):
            print(f'## {name}\n\n{render(tables, name, results)}\n')
    if svg:
        plot = svg_plot(tables)
        if plot:
            with open(svg, 'w', encoding='utf-8') as f:
                f.write(plot)
            print(f'report: drew {svg}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
