// The console and portal in real Chromium against the real server:
//   QGOV_BIN=target/debug/qgov node --test tests/browser/
// Build first: cargo build -p qgov-cli. Screenshots go to test-artifacts/screenshots/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { breakCheck, composeUscc, launchBrowser, login, newPage, screenshot, startServer } from './support.mjs';

const ENTITY_A = composeUscc('91120116', 'MA05K1TQ');
const ENTITY_B = composeUscc('92120116', 'MA07PQ3D');
const NEW_ENTITY = composeUscc('91120116', 'MA0AB12C');

describe('qgov console', () => {
  let server;
  let browser;
  let idA;
  let idB;

  before(async () => {
    server = await startServer();
    const a = await server.api('POST', '/api/v1/enterprises', {
      uscc: ENTITY_A, name: '天津滨海甲食品有限公司', industry: 'food_production', entity_type: 'company', street: '新港街道',
    });
    const b = await server.api('POST', '/api/v1/enterprises', {
      uscc: ENTITY_B, name: '滨海乙餐饮店', industry: 'catering', entity_type: 'sole_proprietor', street: '塘沽街道',
    });
    idA = a.id;
    idB = b.id;
    server.createUser('regulator1', 'regulator', 'regulator-password-1234', ['--department', 'amr']);
    server.createUser('ent-a', 'enterprise', 'enterprise-a-password-1234', ['--enterprise', ENTITY_A]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    server?.stop();
  });

  test('the credit codes of the fixtures are valid and the broken one is not', () => {
    assert.match(ENTITY_A, /^91120116MA05K1TQ[0-9A-HJ-NPQRTUWXY]{2}$/);
    assert.notEqual(breakCheck(ENTITY_A), ENTITY_A);
  });

  test('the console sends visitors to the login page and back', async () => {
    const page = await newPage(browser);
    await page.goto(`${server.base}/console/enterprises?industry=catering`);
    assert.match(page.url(), /\/console\/login\?next=%2Fconsole%2Fenterprises%3Findustry%3Dcatering$/);
    await page.fill('#username', 'admin');
    await page.fill('#password', 'wrong password');
    await page.click('form.form button[type=submit]');
    const error = await page.textContent('[data-testid=login-error]');
    assert.match(error, /用户名或密码不正确/);
    await page.fill('#password', 'admin-password-1234');
    await Promise.all([page.waitForURL(/\/console\/enterprises\?industry=catering$/), page.click('form.form button[type=submit]')]);
    const rows = await page.locator('table.data tbody tr').allTextContents();
    assert.equal(rows.length, 1, 'the catering filter keeps one entity');
    assert.match(rows[0], /滨海乙餐饮店/);
    await screenshot(page, 'enterprises-filtered');
    await page.context().close();
  });

  test('a regulator creates an entity through the form, and sees the credit-code error next to the field', async () => {
    const page = await newPage(browser);
    await login(page, server.base, 'regulator1', 'regulator-password-1234');
    assert.match(await page.textContent('h1'), /工作台/);
    await screenshot(page, 'dashboard-regulator');

    await page.goto(`${server.base}/console/enterprises/new`);
    await page.fill('#field-uscc', breakCheck(NEW_ENTITY));
    await page.fill('#field-name', '天津滨海丙建材有限公司');
    await page.selectOption('#field-industry', 'building_materials');
    await page.selectOption('#field-entity_type', 'company');
    await page.selectOption('#field-status', 'active');
    const [refused] = await Promise.all([page.waitForNavigation(), page.click('[data-testid=save]')]);
    assert.equal(refused.status(), 422);
    const fieldError = page.locator('.field:has(#field-uscc) [data-field-error=uscc]');
    assert.match(await fieldError.textContent(), /校验码/);
    assert.equal(await page.inputValue('#field-uscc'), breakCheck(NEW_ENTITY), 'the form keeps what was typed');
    assert.equal(await page.inputValue('#field-name'), '天津滨海丙建材有限公司');
    assert.equal(await page.locator('[data-field-error]').count(), 1, 'only the credit code is wrong');
    await screenshot(page, 'entity-form-bad-credit-code');

    await page.fill('#field-uscc', NEW_ENTITY);
    await Promise.all([page.waitForURL(/\/console\/enterprises\/\d+$/), page.click('[data-testid=save]')]);
    assert.match(await page.textContent('h1'), /天津滨海丙建材有限公司/);
    assert.match(await page.textContent('.facts'), new RegExp(NEW_ENTITY));
    assert.match(await page.textContent('.facts'), /建筑材料/);
    await screenshot(page, 'entity-created');

    await page.goto(`${server.base}/console/enterprises?sort=name`);
    const names = await page.locator('table.data tbody tr td:nth-child(2)').allTextContents();
    assert.equal(names.length, 3);
    assert.deepEqual(names, [...names].sort(), 'sorted by name');
    await page.context().close();
  });

  test('the language switch changes the page from Chinese to English and back', async () => {
    const page = await newPage(browser);
    await login(page, server.base, 'admin', 'admin-password-1234');
    await page.goto(`${server.base}/console/enterprises`);
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.match(await page.textContent('nav.main-nav'), /市场主体/);
    await Promise.all([page.waitForURL(/\/console\/enterprises$/), page.click('[data-testid=lang-switch]')]);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match(await page.textContent('nav.main-nav'), /Market entities/);
    assert.match(await page.textContent('h1'), /Market entities/);
    assert.doesNotMatch(await page.textContent('nav.main-nav'), /市场主体/);
    await screenshot(page, 'enterprises-english');
    await page.goto(`${server.base}/registry`);
    assert.match(await page.textContent('h1'), /Public register/);
    await Promise.all([page.waitForURL(/\/registry$/), page.click('[data-testid=lang-switch]')]);
    assert.match(await page.textContent('h1'), /市场主体公示/);
    await page.context().close();
  });

  test('an enterprise sees its own entity but not another enterprise\'s', async () => {
    const page = await newPage(browser);
    await login(page, server.base, 'ent-a', 'enterprise-a-password-1234');
    assert.match(await page.textContent('[data-testid=own-entity]'), /天津滨海甲食品有限公司/);
    await screenshot(page, 'dashboard-enterprise');

    const own = await page.goto(`${server.base}/console/enterprises/${idA}`);
    assert.equal(own.status(), 200);
    assert.match(await page.textContent('h1'), /天津滨海甲食品有限公司/);
    assert.equal(await page.locator('a:has-text("编辑")').count(), 0, 'enterprises may not edit their register entry');

    const other = await page.goto(`${server.base}/console/enterprises/${idB}`);
    assert.ok([403, 404].includes(other.status()), `status ${other.status()}`);
    assert.match(await page.textContent('.error-code'), /40[34]/);
    assert.doesNotMatch(await page.content(), /滨海乙餐饮店/);
    await screenshot(page, 'enterprise-refused-other');

    await page.goto(`${server.base}/console/enterprises`);
    const rows = await page.locator('table.data tbody tr').allTextContents();
    assert.equal(rows.length, 1);
    assert.match(rows[0], /天津滨海甲食品有限公司/);
    assert.equal(await page.locator('nav.main-nav a[href="/console/inspectors"]').count(), 0);
    await page.context().close();
  });

  test('the public register shows public fields only, and the console works on a phone', async () => {
    const page = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true });
    await page.goto(`${server.base}/registry?q=${encodeURIComponent('滨海')}`);
    const table = await page.textContent('table.data');
    assert.match(table, /天津滨海甲食品有限公司/);
    assert.match(table, /新港街道/);
    await screenshot(page, 'portal-registry-phone');
    assert.equal(await page.isVisible('nav.main-nav'), false, 'the navigation is folded away on a phone');
    await page.click('label.nav-label');
    assert.equal(await page.isVisible('nav.main-nav'), true);
    await screenshot(page, 'portal-registry-phone-menu');
    await page.context().close();
  });

  test('the API docs page lists the operations', async () => {
    const page = await newPage(browser);
    await page.goto(`${server.base}/api/v1/docs`);
    assert.ok(await page.locator('article.op').count() > 20);
    assert.match(await page.textContent('#schemas'), /Problem/);
    await screenshot(page, 'api-docs');
    await page.context().close();
  });
});
