// The trace pages in real Chromium against the demo district (`qgov demo`: a 3,000-event
// traced food chain whose farms, factories, cold stores and shops are in the locations
// register and whose produce and products are in the products register): the SVG graph
// agrees with /api/v1/trace and names the places and products as registered, the
// recall-scope table and its street/grid areas agree with /api/v1/trace/scope and it sorts by
// last seen, the exports download, a regulator shares a scope on its page (the shares listed
// as /api/v1/trace/scope/shares lists them; a refused share's page switches language back to
// the scope page) and it opens for that enterprise and for no one else, bad ids get readable
// pages, and the pages fit a phone.
//   QGOV_BIN=target/debug/qgov node --test tests/browser/trace.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { launchBrowser, login, newPage, screenshot, startDemoServer } from './support.mjs';

const REGULATOR = ['regulator', 'demo-regulator-2026'];
const ENTERPRISE = ['enterprise', 'demo-enterprise-2026'];
const ENTERPRISE2 = ['enterprise2', 'demo-enterprise-2026'];
const UNKNOWN_AREA = '未登记地点';
// Columns of the scope table.
const COL = { id: 0, product: 1, lot: 2, location: 3, area: 4, owner: 5, disposition: 6, quantity: 7, lastSeen: 8 };

/** GS1 mod-10 check digit (GS1 General Specifications §7.9). */
function gs1Check(digits) {
  const sum = [...digits].reverse().reduce((s, d, i) => s + Number(d) * (i % 2 === 0 ? 3 : 1), 0);
  return String((10 - (sum % 10)) % 10);
}

/** The GLN of an SGLN or PGLN URN (`urn:epc:id:sgln:6901234.00001.0`), else null. */
function glnOf(urn) {
  const m = urn.match(/^urn:epc:id:[sp]gln:(\d+)\.(\d*)/);
  return m ? m[1] + m[2] + gs1Check(m[1] + m[2]) : null;
}

/** Records of a CSV file (RFC 4180 quoting), without the trailing empty line. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** One member of a ZIP archive (an XLSX file), read through its central directory. */
function unzipEntry(buf, name) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'a ZIP archive');
  let p = buf.readUInt32LE(eocd + 16);
  for (let n = buf.readUInt16LE(eocd + 10); n > 0; n--) {
    const [method, size, nameLen, extraLen, commentLen, local] = [
      buf.readUInt16LE(p + 10), buf.readUInt32LE(p + 20), buf.readUInt16LE(p + 28),
      buf.readUInt16LE(p + 30), buf.readUInt16LE(p + 32), buf.readUInt32LE(p + 42),
    ];
    if (buf.toString('utf8', p + 46, p + 46 + nameLen) === name) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      return (method === 8 ? inflateRawSync(data) : data).toString('utf8');
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${name} is not in the archive`);
}

/** The rows of the first sheet of an XLSX file, each as its cells' text. */
function xlsxRows(buf) {
  const shared = [...unzipEntry(buf, 'xl/sharedStrings.xml').matchAll(/<si>([\s\S]*?)<\/si>/g)]
    .map((m) => [...m[1].matchAll(/<t[^>]*>([^<]*)<\/t>/g)].map((t) => t[1]).join(''));
  const sheet = unzipEntry(buf, 'xl/worksheets/sheet1.xml');
  return [...sheet.matchAll(/<row[^>]*>([\s\S]*?)<\/row>/g)].map((r) =>
    [...r[1].matchAll(/<c([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)].map(([, attrs, inner = '']) => {
      const v = inner.match(/<v>([^<]*)<\/v>/)?.[1] ?? inner.match(/<t[^>]*>([^<]*)<\/t>/)?.[1] ?? '';
      return /t="s"/.test(attrs) ? shared[Number(v)] : v;
    }));
}

/** What the server draws for a trace (console/trace.rs `draw`, below its folding limit). */
function expectedDrawing(t) {
  const pairs = new Set(t.edges.filter((e) => e.from !== e.to).map((e) => `${e.from}\n${e.to}`));
  return { nodes: t.nodes.length, lines: pairs.size };
}

/** Click a download link and return the downloaded file's bytes. */
async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  assert.equal(await dl.failure(), null);
  return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()) };
}

/** No horizontal scrolling of the page itself (wide graphs and tables scroll in their box). */
async function assertFitsWidth(page) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= width, `the page scrolls sideways: ${scroll} > ${width}`);
}

describe('trace pages', () => {
  let server;
  let browser;
  let root; // the product lot `qgov demo` offers
  let farmLot; // a farm lot of the main chain upstream of it
  let places; // GLN → the place `qgov demo` registered for it
  let shopGln; // the chain's shop owned by the `enterprise2` account's entity (a retailer)
  let factoryGln; // the chain's factory owned by the `enterprise` account's entity (a food producer)

  /** GET an API path as a user; the parsed JSON of a 200. */
  async function get(urlPath, user = 'regulator') {
    const res = await server.api('GET', urlPath, undefined, user);
    assert.equal(res.status, 200, `${urlPath} → ${res.status}`);
    return res.json();
  }
  const traceApi = (id, direction, user) =>
    get(`/api/v1/trace?id=${encodeURIComponent(id)}&direction=${direction}`, user);
  const scopeApi = (id, user) => get(`/api/v1/trace/scope?id=${encodeURIComponent(id)}`, user);

  async function signedIn([username, password], options) {
    const page = await newPage(browser, options);
    await login(page, server.base, username, password);
    return page;
  }

  before(async () => {
    server = await startDemoServer(['admin', 'regulator', 'enterprise', 'enterprise2']);
    root = server.traceRoot;
    assert.match(root, /^(urn:epc:class:lgtin:|https:\/\/id\.gs1\.org\/01\/)/, 'qgov demo names a product lot');
    const back = await traceApi(root, 'backward');
    // Farm lots are the generator's `F<farm>D<day>H<k>` lot numbers.
    farmLot = back.nodes.find((n) => n.kind === 'class' && /\.F\d+D\d+H\d+$/.test(n.id))?.id;
    assert.ok(farmLot, `a farm lot upstream of ${root}`);

    // `qgov demo` registers every place and party of its chain (GS1 company prefix 6901234).
    const registered = await get('/api/v1/locations?q=6901234&per_page=500');
    places = new Map(registered.items.map((l) => [l.gln, l]));
    const chainPlace = async (user) =>
      (await get('/api/v1/locations?per_page=500', user)).items.find((l) => l.gln.startsWith('6901234'))?.gln;
    shopGln = await chainPlace('enterprise2');
    factoryGln = await chainPlace('enterprise');
    assert.equal(places.get(shopGln)?.kind, 'store', 'the retailer account owns a shop of the chain');
    assert.equal(places.get(factoryGln)?.kind, 'factory', 'the food producer account owns a factory of the chain');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    server?.stop();
  });

  test('a regulator traces the demo lot backward and forward; the graph and places match the API', async () => {
    const page = await signedIn(REGULATOR);
    for (const direction of ['backward', 'forward']) {
      const api = await traceApi(root, direction);
      if (direction === 'backward') {
        await page.goto(`${server.base}/console/trace?id=${encodeURIComponent(root)}`);
      } else {
        // Switch through the form, as a user would.
        await page.selectOption('#trace-direction', 'forward');
        await Promise.all([page.waitForURL(/direction=forward/), page.click('[data-testid=trace-form] button[type=submit]')]);
      }
      assert.equal(await page.inputValue('#trace-direction'), direction);
      const svg = page.locator('[data-testid=trace-graph] svg.trace-graph');
      await svg.waitFor();
      assert.ok(api.nodes.length > 1 && api.nodes.length <= 300, `${direction}: ${api.nodes.length} nodes, drawn unfolded`);
      const want = expectedDrawing(api);
      assert.equal(await svg.locator('g.trace-node').count(), want.nodes, `${direction}: one box per node`);
      assert.equal(await svg.locator('line.trace-edge').count(), want.lines, `${direction}: one line per linked pair`);
      assert.equal(await svg.locator('g.trace-node.root').count(), 1, 'the root is marked');
      assert.equal(await page.locator('[data-testid=trace-folded]').count(), 0);
      const heading = await page.textContent('section.panel h2');
      assert.match(heading, new RegExp(`${api.nodes.length} 个对象 · ${api.edges.length} 条关联`));

      // The places list: every location of the API, by its registered name where it has one.
      const rows = page.locator('[data-testid=trace-locations] tbody tr');
      assert.equal(await rows.count(), api.locations.length);
      const listed = (await rows.allTextContents()).join('\n');
      for (const l of api.locations) {
        assert.ok(listed.includes(l.id), `${direction}: ${l.id} is listed`);
        const place = places.get(glnOf(l.id));
        assert.ok(place, `${direction}: ${l.id} is registered by the demo`);
        // A place by its own name, a party by the name of the entity owning its GLN.
        const name = l.id.includes(':sgln:') ? place.name : place.owner_name;
        assert.equal(l.name, name, `${l.id}: the API names it as registered`);
        assert.ok(listed.includes(name), `${direction}: ${l.id} by name`);
      }
      // The products list: every GTIN of the trace, by the name the demo registered for it.
      const products = new Map();
      for (const n of api.nodes.filter((n) => n.gtin)) {
        assert.ok(n.product, `${direction}: ${n.id} names its product`);
        products.set(n.gtin, { name: n.product, objects: (products.get(n.gtin)?.objects ?? 0) + 1 });
      }
      if (direction === 'backward') {
        assert.ok(products.size >= 2, `the product and the produce it was made of (${[...products.keys()]})`);
      }
      const productRows = await page.locator('[data-testid=trace-products] tbody tr').evaluateAll((trs) =>
        trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
      assert.deepEqual(productRows, [...products.keys()].sort().map((g) => [products.get(g).name, g, String(products.get(g).objects)]),
        `${direction}: the products by GTIN, named`);
      const rootProduct = api.nodes.find((n) => n.id === api.root)?.product;
      assert.match(rootProduct, /\d+(g|kg|ml)$/, 'the demo lot is of a processed product');
      assert.ok((await page.textContent('[data-testid=trace-products]')).includes(rootProduct), `${rootProduct} is shown`);
      await screenshot(page, `trace-${direction}`);
    }

    // A node of the graph links to its own trace: the farm lot, backward.
    await page.goto(`${server.base}/console/trace?id=${encodeURIComponent(root)}&direction=backward`);
    await Promise.all([
      page.waitForURL((u) => u.searchParams.get('id') === farmLot),
      page.locator(`svg.trace-graph a:has(title:text-is("${farmLot}"))`).click(),
    ]);
    assert.equal(await page.inputValue('#trace-id'), farmLot);
    const farmBack = await traceApi(farmLot, 'backward');
    assert.equal(await page.locator('svg.trace-graph g.trace-node').count(), expectedDrawing(farmBack).nodes);
    await page.context().close();
  });

  test('the recall scope of a farm lot lists what the API lists, by street and grid, and exports it', async () => {
    const page = await signedIn(REGULATOR);
    await page.goto(`${server.base}/console/trace?id=${encodeURIComponent(farmLot)}&direction=forward`);
    await Promise.all([page.waitForURL(/\/console\/trace\/scope\?/), page.click('[data-testid=scope-link]')]);
    const api = await scopeApi(farmLot);
    assert.ok(api.items.length > 10, `a farm lot reaches many items (${api.items.length})`);

    const rows = page.locator('[data-testid=scope-items] tbody tr');
    assert.equal(await rows.count(), api.items.length);
    assert.deepEqual(await page.locator('[data-testid=scope-items] tbody tr td:first-child').allTextContents(),
      api.items.map((i) => i.id), 'the same items in the same order');
    assert.match(await page.textContent('main'), new RegExp(`下游共 ${api.items.length} 个单品或批次`));
    assert.equal(await page.locator('[data-testid=scope-parties] tbody tr').count(), Math.max(api.parties.length, 1));

    // Areas: one card per (street, grid), sorted, counting the items whose last place is there.
    const expected = new Map();
    for (const i of api.items) {
      const key = `${i.street ?? UNKNOWN_AREA}${i.grid ? ` · ${i.grid}` : ''}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const shown = await page.locator('[data-testid=scope-areas] .trace-area').evaluateAll((cards) =>
      cards.map((c) => [c.querySelector('strong').nextSibling?.textContent.trim()
        ? `${c.querySelector('strong').textContent}${c.querySelector('strong').nextSibling.textContent.replace(/\s+/g, ' ').trimEnd()}`
        : c.querySelector('strong').textContent, Number(c.querySelector('.num').textContent)]));
    const sortedKeys = [...expected.keys()].sort();
    assert.deepEqual(shown, sortedKeys.map((k) => [k, expected.get(k)]), 'areas grouped and sorted by street, then grid');
    assert.equal(shown.reduce((s, [, n]) => s + n, 0), api.items.length);
    // The demo as seeded: every item's last place is registered, in a street of its own.
    assert.ok(!shown.some(([k]) => k.startsWith(UNKNOWN_AREA)), 'no item in an unregistered place');
    const streets = new Set(await page.locator('[data-testid=scope-areas] .trace-area strong').allTextContents());
    assert.ok(streets.size >= 2, `the items spread over streets: ${[...streets]}`);
    for (const street of streets) assert.match(street, /(街道|镇)$/);
    // Each item's row names its last place and the area of it, as registered.
    const cells = await page.locator('[data-testid=scope-items] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
    api.items.forEach((i, n) => {
      const p = places.get(glnOf(i.lastLocation));
      assert.ok(p, `${i.id}: its last place ${i.lastLocation} is registered`);
      assert.equal(cells[n][COL.location], p.name, `${i.id} was last seen at ${p.name}`);
      assert.equal(cells[n][COL.area], `${p.street} · ${p.grid}`, `${i.id} sits in ${p.street}`);
      assert.ok(i.product, `${i.id}: its product is registered`);
      assert.equal(cells[n][COL.product], i.product, `${i.id} is ${i.product}`);
    });
    await screenshot(page, 'trace-scope');

    // Sorting by last seen (server-side, like the register lists): oldest first, then a
    // second click newest first; the same rows either way, and the export links unchanged.
    const exportLinks = async () => page.locator('a[href*="/console/trace/scope/export"]').evaluateAll((as) => as.map((a) => a.href));
    const unsortedExports = await exportLinks();
    const seenHeader = page.locator('[data-testid=scope-items] thead th', { hasText: '最后记录时间' });
    const rowsNow = () => page.locator('[data-testid=scope-items] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
    await Promise.all([page.waitForURL(/sort=last_seen/), seenHeader.locator('a.sort').click()]);
    assert.equal(new URL(page.url()).searchParams.get('id'), farmLot, 'the sort link keeps the scope');
    assert.equal(await seenHeader.getAttribute('aria-sort'), 'ascending');
    const ascending = await rowsNow();
    const seen = ascending.map((r) => r[COL.lastSeen]);
    assert.ok(seen.every((t) => t !== ''), 'every item of the demo was seen');
    assert.deepEqual(seen, [...seen].sort(), 'oldest first');
    assert.notDeepEqual(seen, api.items.map((i) => i.lastSeen), 'not the trace order by chance');
    assert.deepEqual(ascending.map((r) => r[COL.id]).sort(), api.items.map((i) => i.id).sort(), 'the same items');
    await Promise.all([page.waitForURL(/dir=desc/), seenHeader.locator('a.sort').click()]);
    assert.equal(await seenHeader.getAttribute('aria-sort'), 'descending');
    const descending = (await rowsNow()).map((r) => r[COL.lastSeen]);
    assert.deepEqual(descending, [...seen].sort().reverse(), 'newest first');
    assert.deepEqual(await exportLinks(), unsortedExports, 'the exports are the same files, sorted or not');
    await screenshot(page, 'trace-scope-sorted');

    // Exports: Chinese headings by default; the console's files hold the API's rows.
    const viaApi = await server.api('GET', `/api/v1/trace/scope/export?id=${encodeURIComponent(farmLot)}&format=csv`, undefined, 'regulator');
    assert.equal(viaApi.status, 200);
    const apiRows = parseCsv((await viaApi.text()).replace(/^\uFEFF/, ''));
    const csv = await download(page, '[data-testid=scope-csv]');
    assert.match(csv.name, /\.csv$/);
    const csvRows = parseCsv(csv.bytes.toString('utf8').replace(/^\uFEFF/, ''));
    assert.equal(csvRows[0][0], '事件时间', 'the header row is in Chinese');
    assert.ok(csvRows[0].includes('追溯批次码') && csvRows[0].includes('地点名称'));
    assert.equal(csvRows.length, apiRows.length);
    assert.ok(csvRows.length > api.items.length, 'at least one event row per item');
    assert.ok(csvRows.slice(1).every((r) => r.length === csvRows[0].length), 'every row has every column');
    const lotColumn = csvRows[0].indexOf('追溯批次码');
    assert.ok(csvRows.some((r) => r[lotColumn] && farmLot.endsWith(r[lotColumn])), 'the farm lot is in the file');
    const xlsx = await download(page, `a[href*="format=xlsx"]`);
    assert.match(xlsx.name, /\.xlsx$/);
    const sheet = xlsxRows(xlsx.bytes);
    assert.deepEqual(sheet[0], csvRows[0], 'the same Chinese header row');
    assert.equal(sheet.length, csvRows.length, 'as many rows as the CSV');
    await page.context().close();
  });

  test('a regulator shares a recall scope on its page; it opens for that enterprise only, others get a clear refusal', async () => {
    const regScope = await scopeApi(farmLot);
    const scopeUrl = `${server.base}/console/trace/scope?id=${encodeURIComponent(farmLot)}`;
    const traceUrl = `${server.base}/console/trace?id=${encodeURIComponent(farmLot)}&direction=forward`;

    const farmPlace = places.get(glnOf((await traceApi(farmLot, 'backward')).locations[0].id));
    assert.equal(farmPlace.kind, 'farm');

    // Before any share, enterprise2 (a retailer: no event of the farm lot names its shop)
    // sees none of it.
    const other = await signedIn(ENTERPRISE2);
    const refused = await other.goto(scopeUrl);
    assert.equal(refused.status(), 404);
    assert.match(await other.textContent('.error-code'), /404/);
    assert.match(await other.textContent('main'), /页面不存在/);
    assert.ok(!(await other.content()).includes(farmPlace.name), 'nothing of the farm leaks');
    const notTraced = await other.goto(traceUrl);
    assert.equal(notTraced.status(), 404);
    assert.match(await other.textContent('[data-testid=trace-error]'), /在您可见的事件中没有该标识/);
    assert.equal(await other.locator('svg.trace-graph').count(), 0);
    await screenshot(other, 'trace-scope-not-shared');

    // Its own part: a case that ended in its shop traces back to its own receipt, not the farm.
    const ownItem = regScope.items.find((i) => i.kind === 'instance' && glnOf(i.lastLocation) === shopGln);
    assert.ok(ownItem, `the farm lot reaches enterprise2's shop ${places.get(shopGln).name}`);
    const ownTrace = await traceApi(ownItem.id, 'backward', 'enterprise2');
    assert.ok(!ownTrace.nodes.some((n) => n.id === farmLot), 'the API hides the farm lot from the retailer');
    await other.goto(`${server.base}/console/trace?id=${encodeURIComponent(ownItem.id)}`);
    const ownList = await other.textContent('[data-testid=trace-locations]');
    assert.ok(ownList.includes(places.get(shopGln).name), 'its own shop is named');
    assert.ok(!ownList.includes(farmPlace.name), 'the farm is not among its places');
    assert.equal(await other.locator('svg.trace-graph g.trace-node').count(), expectedDrawing(ownTrace).nodes);

    // `enterprise` (a food producer whose factory took part of the farm lot) sees its own part
    // of the scope: the factory's rows, not every shop's.
    const own = await signedIn(ENTERPRISE);
    const ownScope = await scopeApi(farmLot, 'enterprise');
    assert.ok(ownScope.items.length > 0 && ownScope.items.length < regScope.items.length, 'a part of the scope');
    assert.equal((await own.goto(scopeUrl)).status(), 200);
    assert.equal(await own.locator('[data-testid=scope-items] tbody tr').count(), ownScope.items.length);
    assert.ok((await own.textContent('[data-testid=scope-items]')).includes(places.get(factoryGln).name));

    // Enterprises neither see with whom a scope is shared nor the form to share it.
    assert.equal(await own.locator('#shares, [data-testid=share-form]').count(), 0);
    const [entity2] = (await get('/api/v1/enterprises', 'enterprise2')).items;

    // The regulator shares the scope with enterprise2 on the scope page, picking it by name.
    const reg = await signedIn(REGULATOR);
    await reg.goto(scopeUrl);
    assert.match(await reg.textContent('[data-testid=scope-shares]'), /尚未共享给任何市场主体/);
    const form = reg.locator('[data-testid=share-form]');
    assert.ok(await reg.locator(`#share-enterprises option[value="${entity2.uscc}"]`).count(), 'the register offers it');
    // A name the register does not know is refused on the page, keeping what was typed.
    await form.locator('#field-enterprise').fill('天津没有这家公司');
    const [unknown] = await Promise.all([reg.waitForNavigation(), form.locator('button[type=submit]').click()]);
    assert.equal(unknown.status(), 422);
    assert.match(await reg.textContent('[data-field-error=enterprise]'), /没有与此名称或信用代码对应的市场主体/);
    assert.equal(await reg.inputValue('#field-enterprise'), '天津没有这家公司');
    // The refused share's page is the scope page: switching language there returns to it
    // (not to the POST-only share URL, which would answer 405), and back again.
    const back = new URL(await reg.getAttribute('[data-testid=lang-switch]', 'href'), server.base).searchParams.get('back');
    assert.equal(back, new URL(scopeUrl).pathname + new URL(scopeUrl).search, 'the switch returns to the scope page');
    const [english] = await Promise.all([reg.waitForNavigation(), reg.click('[data-testid=lang-switch]')]);
    assert.equal(english.status(), 200);
    assert.equal(new URL(reg.url()).pathname, '/console/trace/scope');
    assert.equal(new URL(reg.url()).searchParams.get('id'), farmLot);
    assert.equal(await reg.getAttribute('html', 'lang'), 'en');
    assert.match(await reg.textContent('[data-testid=scope-shares]'), /Not shared with any enterprise yet/);
    await Promise.all([reg.waitForNavigation(), reg.click('[data-testid=lang-switch]')]);
    assert.equal(new URL(reg.url()).pathname, '/console/trace/scope');
    assert.match(await reg.textContent('[data-testid=scope-shares]'), /尚未共享给任何市场主体/);
    // Without the session's CSRF token the share is refused.
    const forged = await reg.request.post(`${server.base}/console/trace/scope/shares`, {
      form: { id: farmLot, enterprise: entity2.uscc }, maxRedirects: 0,
    });
    assert.equal(forged.status(), 403);
    await reg.locator('#field-enterprise').fill(entity2.name);
    await Promise.all([reg.waitForURL(/shared=/), reg.locator('[data-testid=share-form] button[type=submit]').click()]);
    assert.match(await reg.textContent('[data-testid=share-done]'), new RegExp(`已将召回范围共享给 ${entity2.name}`));
    const shareRows = await reg.locator('[data-testid=scope-shares] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
    assert.equal(shareRows.length, 1);
    const [name, uscc, by, at] = shareRows[0];
    assert.deepEqual([name, uscc, by], [entity2.name, entity2.uscc, 'regulator'], 'with whom and who shared');
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 120_000, `shared just now (${at})`);
    await screenshot(reg, 'trace-scope-share');
    // Staff read the same list from the API; an enterprise is not told with whom it was shared.
    const listed = await get(`/api/v1/trace/scope/shares?id=${encodeURIComponent(farmLot)}`, 'admin');
    assert.equal(listed.id, regScope.root);
    assert.deepEqual(listed.shares.map((s) => [s.name, s.enterprise, s.sharedBy, s.createdAt]), [[name, uscc, by, at]]);
    const hidden = await server.api('GET', `/api/v1/trace/scope/shares?id=${encodeURIComponent(farmLot)}`, undefined, 'enterprise2');
    assert.equal(hidden.status, 403);
    // The audit trail says who granted the access.
    const audit = await get('/api/v1/audit?limit=5', 'admin');
    assert.ok(audit.some((r) => r.action === 'trace.share' && r.actor === 'user:regulator'
      && r.after.entity_id === entity2.id), 'the share is audited with who made it');
    await reg.context().close();

    const shared = await other.goto(scopeUrl);
    assert.equal(shared.status(), 200);
    assert.equal(await other.locator('[data-testid=scope-items] tbody tr').count(), regScope.items.length, 'the whole scope');
    const areas = await other.textContent('[data-testid=scope-areas]');
    for (const i of regScope.items) assert.ok(areas.includes(i.street), `${i.street} is among the areas`);
    const csv = await download(other, '[data-testid=scope-csv]');
    assert.equal(parseCsv(csv.bytes.toString('utf8').replace(/^\uFEFF/, ''))[0][0], '事件时间');
    await screenshot(other, 'trace-scope-shared');
    // The share opens the scope only, not the trace of the farm's part of the chain …
    assert.equal((await other.goto(traceUrl)).status(), 404);
    // … and only for enterprise2: enterprise still sees its own part.
    assert.equal((await own.goto(scopeUrl)).status(), 200);
    assert.equal(await own.locator('[data-testid=scope-items] tbody tr').count(), ownScope.items.length);
    await other.context().close();
    await own.context().close();
  });

  test('bad and unknown ids get readable pages, not server errors', async () => {
    const page = await signedIn(REGULATOR);
    const bad = await page.goto(`${server.base}/console/trace?id=${encodeURIComponent('not an id')}`);
    assert.equal(bad.status(), 422);
    assert.match(await page.textContent('[data-testid=trace-error]'), /不是有效的 EPC URN/);
    assert.equal(await page.inputValue('#trace-id'), 'not an id', 'the form keeps what was typed');

    const unknown = 'urn:epc:class:lgtin:6901234.099999.NOSUCHLOT';
    assert.equal((await page.goto(`${server.base}/console/trace?id=${encodeURIComponent(unknown)}`)).status(), 404);
    assert.match(await page.textContent('[data-testid=trace-error]'), /没有该标识/);

    const badScope = await page.goto(`${server.base}/console/trace/scope?id=${encodeURIComponent('not an id')}`);
    assert.equal(badScope.status(), 400);
    assert.match(await page.textContent('.error-page'), /不是有效的 EPC URN/);
    assert.equal((await page.goto(`${server.base}/console/trace/scope?id=${encodeURIComponent(unknown)}`)).status(), 404);
    assert.match(await page.textContent('.error-code'), /404/);

    // The exports and the direction answer a bad request with a page saying what was wrong.
    for (const [path, status, says] of [
      [`/console/trace/export?id=${encodeURIComponent('not an id')}&format=csv`, 400, /不是有效的 EPC URN/],
      [`/console/trace/scope/export?id=${encodeURIComponent(farmLot)}&format=pdf`, 400, /format: csv or xlsx/],
      [`/console/trace?id=${encodeURIComponent(root)}&direction=sideways`, 422, /direction: backward or forward/],
    ]) {
      const res = await page.goto(`${server.base}${path}`);
      assert.equal(res.status(), status, path);
      assert.match(await page.textContent('main'), says, path);
      assert.doesNotMatch(await page.textContent('main'), /系统错误/);
    }
    await screenshot(page, 'trace-bad-id');
    await page.context().close();
  });

  test('the trace and scope pages fit a phone', async () => {
    const page = await signedIn(REGULATOR, { viewport: { width: 390, height: 844 }, isMobile: true });
    await page.goto(`${server.base}/console/trace?id=${encodeURIComponent(root)}&direction=forward`);
    await page.locator('svg.trace-graph').waitFor();
    await assertFitsWidth(page);
    const canvas = await page.locator('[data-testid=trace-graph]').boundingBox();
    assert.ok(canvas.x >= 0 && canvas.x + canvas.width <= 390, 'the graph scrolls inside its box');
    await screenshot(page, 'trace-phone');
    await page.goto(`${server.base}/console/trace/scope?id=${encodeURIComponent(farmLot)}`);
    await assertFitsWidth(page);
    await screenshot(page, 'trace-scope-phone');
    await page.context().close();
  });
});
