// Supervision sampling in real Chromium against the real server: a task from the
// verifiable draw to a failed sample, the enterprise's rectification evidence, the
// regulator's verification and publication, and the result on the public portal.
//   QGOV_BIN=target/debug/qgov node --test tests/browser/sampling.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, composeUscc, launchBrowser, login, newPage, screenshot, startServer } from './support.mjs';

const FARM = composeUscc('93120116', 'MA05K1T1');
const SHOP = composeUscc('92120116', 'MA05K1T2');
const OTHER = composeUscc('91120116', 'MA05K1T3');
// A 1×1 PNG, as a phone would upload a photo.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

/** Open an action of the sample page (a <details>) and return its form. */
async function action(page, kind) {
  await page.evaluate((k) => { document.querySelector(`details[data-event="${k}"]`).open = true; }, kind);
  return page.locator(`[data-testid="form-${kind}"]`);
}

/** Submit an action form and wait for the sample page to come back. */
async function submit(page, form, kind) {
  await Promise.all([page.waitForURL(/\/console\/sampling\/samples\/\d+(\?done=.*)?$/), form.locator(`[data-testid="do-${kind}"]`).click()]);
  const err = page.locator('[data-testid=action-error]');
  if (await err.count()) assert.fail(`${kind} refused: ${await err.textContent()}`);
}

describe('supervision sampling', () => {
  let server;
  let browser;
  let inspectors;

  before(async () => {
    server = await startServer();
    await server.api('POST', '/api/v1/enterprises', { uscc: FARM, name: '天津滨海绿野蔬菜专业合作社', industry: 'farm_produce', entity_type: 'cooperative', street: '中塘镇', address: '滨海新区中塘镇某村' });
    await server.api('POST', '/api/v1/enterprises', { uscc: SHOP, name: '滨海鲜丰果蔬店', industry: 'farm_produce', entity_type: 'sole_proprietor', street: '新港街道' });
    await server.api('POST', '/api/v1/enterprises', { uscc: OTHER, name: '天津滨海某食品有限公司', industry: 'food_production', entity_type: 'company', street: '塘沽街道' });
    inspectors = [];
    for (const [name, cert] of [['张三', 'ZF-001'], ['李四', 'ZF-002'], ['王五', 'ZF-003']]) {
      inspectors.push(await server.api('POST', '/api/v1/inspectors', { name, department_code: 'amr', certificate_no: cert }));
    }
    server.createUser('regulator1', 'regulator', 'regulator-password-1234', ['--department', 'amr']);
    server.createUser('farm', 'enterprise', 'farm-password-1234', ['--enterprise', FARM]);
    server.createUser('shop', 'enterprise', 'shop-password-1234', ['--enterprise', SHOP]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    server?.stop();
  });

  test('from the draw to a failed sample, rectification, verification and publication', async () => {
    const reg = await newPage(browser);
    await login(reg, server.base, 'regulator1', 'regulator-password-1234');
    const base = server.base;

    // The spot-check list: a form with an inline error, then the item.
    await reg.click('nav.main-nav a:has-text("抽检")');
    await reg.click('.subnav a:has-text("随机抽查事项清单")');
    await reg.click('[data-testid=new-check-item]');
    await reg.fill('#in-code', 'NCP-01');
    await reg.fill('#in-name', '食用农产品监督抽检');
    const [refused] = await Promise.all([reg.waitForNavigation(), reg.click('[data-testid=save]')]);
    assert.equal(refused.status(), 422);
    assert.ok(await reg.locator('[data-field-error=legal_basis]').count(), 'the missing legal basis is shown at its field');
    await reg.fill('#in-legal_basis', '《中华人民共和国农产品质量安全法》第四十六条');
    await reg.fill('#in-authority', '滨海新区市场监管局');
    await reg.fill('#in-object_type', '食用农产品经营者');
    await reg.fill('#in-sub_items', '抽样\n检验');
    await Promise.all([reg.waitForURL(/\/check-items$/), reg.click('[data-testid=save]')]);
    assert.match(await reg.textContent('table.data'), /NCP-01.*食用农产品监督抽检/s);

    // Directories: the farm is class D (ratio 1 below → always drawn); 张三 has a conflict with it.
    await reg.goto(`${base}/console/sampling/directory`);
    const cls = reg.locator('[data-testid=credit-class-form]');
    await cls.locator('[name=uscc]').fill(FARM);
    await cls.locator('[name=class]').selectOption('D');
    await cls.locator('[name=since]').fill('2025-01-01');
    await Promise.all([reg.waitForURL(/done=credit-class/), cls.locator('button[type=submit]').click()]);
    const cf = reg.locator('[data-testid=conflict-form]');
    await cf.locator('[name=inspector_id]').selectOption(String(inspectors[0].id));
    await cf.locator('[name=uscc]').fill(FARM);
    await cf.locator('[name=reason]').fill('近亲属');
    await Promise.all([reg.waitForURL(/done=conflict/), cf.locator('button[type=submit]').click()]);
    assert.match(await reg.textContent('main'), /近亲属/);

    // Plan and task: ratios per credit class, a check item.
    await reg.goto(`${base}/console/sampling`);
    await reg.click('[data-testid=new-plan]');
    await reg.fill('#in-year', '2025');
    await reg.fill('#in-name', '2025年度食用农产品抽检计划');
    await Promise.all([reg.waitForURL(/\/plans\/\d+$/), reg.click('[data-testid=save]')]);
    await reg.click('[data-testid=new-task]');
    await reg.fill('#in-name', '秋季蔬菜农药残留专项');
    await reg.selectOption('#in-scope_industry', 'farm_produce');
    for (const [c, r] of [['a', '0'], ['b', '0'], ['c', '0'], ['d', '1']]) await reg.fill(`#in-ratio_${c}`, r);
    await reg.fill('#in-period_start', '2025-09-01');
    await reg.fill('#in-period_end', '2025-12-31');
    await reg.check('input[name=check_item_codes][value="NCP-01"]');
    await Promise.all([reg.waitForURL(/\/tasks\/\d+$/), reg.click('[data-testid=save]')]);
    const taskId = reg.url().match(/tasks\/(\d+)/)[1];
    assert.match(await reg.textContent('main'), /D=1/);

    // The draw: commitment first (public, seed sealed), then reveal.
    await Promise.all([reg.waitForURL(/done=commit/), reg.click('[data-testid=commit]')]);
    const commitment = (await reg.textContent('[data-testid=commitment]')).trim();
    assert.match(commitment, /^[0-9a-f]{64}$/);
    const pub = await newPage(browser);
    await pub.goto(`${base}/sampling/draws/${taskId}`);
    assert.equal((await pub.textContent('[data-testid=commitment]')).trim(), commitment);
    assert.ok(await pub.locator('[data-testid=seed-sealed]').count(), 'the seed is not public before the reveal');
    await Promise.all([reg.waitForURL(/done=reveal/), reg.click('[data-testid=reveal]')]);
    const drawn = await reg.textContent('[data-testid=drawn]');
    assert.match(drawn, new RegExp(FARM), 'class D at ratio 1 is drawn');
    const farmRow = await reg.textContent(`[data-testid=drawn] tr:has-text("${FARM}")`);
    assert.doesNotMatch(farmRow, /张三/, 'the declared conflict is avoided');
    await screenshot(reg, 'sampling-task-drawn');

    // Anyone recomputes the draw from the public page's files with `qgov draw verify`.
    await pub.reload();
    const seed = (await pub.textContent('[data-testid=seed]')).trim();
    assert.match(await pub.textContent('[data-testid=verify-command]'), new RegExp(`--seed ${seed}`));
    await screenshot(pub, 'portal-draw');
    const dir = mkdtempSync(path.join(tmpdir(), 'qgov-verify-'));
    for (const [name, url] of [['targets.csv', `/sampling/draws/${taskId}/targets.csv`], ['inspectors.csv', `/sampling/draws/${taskId}/inspectors.csv`], ['result.json', `/api/v1/sampling/tasks/${taskId}/draw`]]) {
      const res = await fetch(base + url);
      assert.equal(res.status, 200, url);
      writeFileSync(path.join(dir, name), Buffer.from(await res.arrayBuffer()));
    }
    const bin = path.resolve(ROOT, process.env.QGOV_BIN || 'target/debug/qgov');
    const args = ['draw', 'verify', '--targets', 'targets.csv', '--inspectors', 'inspectors.csv', '--seed', seed,
      '--ratio', 'A=0,B=0,C=0,D=1', '--per-target', '2', '--commitment', commitment, '--result', 'result.json'];
    const verified = spawnSync(bin, args, { cwd: dir, encoding: 'utf8' });
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /^OK/);
    rmSync(dir, { recursive: true, force: true });

    // The limits table by file import.
    await reg.goto(`${base}/console/sampling/limits`);
    await reg.setInputFiles('[data-testid=limits-import] input[type=file]', {
      name: 'limits.csv', mimeType: 'text/csv',
      buffer: Buffer.from('standard_code,product_category,test_item,kind,min,max,unit\nGB 2763-2021,蔬菜,毒死蜱,max,,0.02,mg/kg\nGB 2763-2021,蔬菜,克百威,max,,0.02,mg/kg\n'),
    });
    await Promise.all([reg.waitForNavigation(), reg.click('[data-testid=limits-import] button[type=submit]')]);
    assert.match(await reg.textContent('[data-testid=import-ok]'), /2/);

    // A sample of the drawn farm, with two samplers and a photo.
    await reg.goto(`${base}/console/sampling/tasks/${taskId}`);
    await reg.click(`[data-testid=drawn] a[href*="${FARM}"]`);
    assert.equal(await reg.inputValue('#in-sampled_uscc'), FARM);
    await reg.fill('#in-sample_no', 'NCP25120116001');
    await reg.selectOption('#in-regime', 'food');
    await reg.fill('#in-product_name', '芹菜');
    await reg.fill('#in-brand', '绿野');
    await reg.fill('#in-specification', '散装');
    await reg.fill('#in-batch_no', '20250920');
    await reg.fill('#in-product_category', '蔬菜');
    await reg.fill('#in-standard_code', 'GB 2763-2021');
    await reg.fill('#in-producer_name', '天津滨海绿野蔬菜专业合作社');
    await reg.fill('#in-producer_address', '滨海新区中塘镇某村');
    await reg.fill('#in-lab', '天津市食品安全检测技术研究院');
    await reg.fill('#in-sampled_at', '2025-09-22T10:00');
    await reg.check(`input[name=sampler_ids][value="${inspectors[1].id}"]`);
    const [one] = await Promise.all([reg.waitForNavigation(), reg.click('[data-testid=save]')]);
    assert.equal(one.status(), 422, 'one sampler is not enough');
    assert.ok(await reg.locator('[data-field-error=sampler_ids]').count());
    await reg.check(`input[name=sampler_ids][value="${inspectors[1].id}"]`);
    await reg.check(`input[name=sampler_ids][value="${inspectors[2].id}"]`);
    await reg.setInputFiles('#in-photos', { name: 'site.png', mimeType: 'image/png', buffer: PNG });
    await Promise.all([reg.waitForURL(/\/samples\/\d+$/), reg.click('[data-testid=save]')]);
    const sampleUrl = reg.url();
    assert.equal(await reg.locator('.photos img').count(), 1, 'the photo is kept with the record');

    // Delivery, results (automatic verdict), service of the result.
    let f = await action(reg, 'deliver');
    await f.locator('[name=at]').fill('2025-09-23T10:00');
    await submit(reg, f, 'deliver');
    f = await action(reg, 'record_result');
    await f.locator('[name=test_item_0]').fill('毒死蜱');
    await f.locator('[name=value_0]').fill('0.052');
    await f.locator('[name=unit_0]').fill('mg/kg');
    await f.locator('[name=test_item_1]').fill('克百威');
    await f.locator('[name=value_1]').fill('未检出');
    await f.locator('[name=unit_1]').fill('mg/kg');
    await f.locator('[name=at]').fill('2025-09-25T10:00');
    await submit(reg, f, 'record_result');
    assert.match(await reg.textContent('[data-testid=verdict]'), /不合格/);
    const results = await reg.textContent('[data-testid=results]');
    assert.match(results, /毒死蜱[\s\S]*0\.052 mg\/kg[\s\S]*≤0\.02mg\/kg[\s\S]*不合格/);
    assert.match(results, /克百威[\s\S]*未检出[\s\S]*合格/);
    f = await action(reg, 'notify');
    await f.locator('[name=at]').fill('2025-09-26T10:00');
    await submit(reg, f, 'notify');
    // The re-test window: 7 working days over the National Day holiday → 2025-10-13.
    assert.match(await reg.textContent('[data-testid=steps]'), /可申请复检[\s\S]*2025-10-13/);
    f = await action(reg, 'confirm_failure');
    await f.locator('[name=at]').fill('2025-10-10T10:00');
    await Promise.all([reg.waitForNavigation(), f.locator('[data-testid=do-confirm_failure]').click()]);
    assert.match(await reg.textContent('[data-testid=action-error]'), /2025-10-13/, 'confirming inside the window is refused with the date');
    f = await action(reg, 'confirm_failure');
    await f.locator('[name=at]').fill('2025-10-14T10:00');
    await submit(reg, f, 'confirm_failure');
    f = await action(reg, 'order_rectification');
    await f.locator('[name=at]').fill('2025-10-15T10:00');
    await f.locator('[name=note]').fill('立即停止销售同批次芹菜，查明农药使用原因，30日内提交整改报告');
    await submit(reg, f, 'order_rectification');
    await screenshot(reg, 'sampling-sample-ordered');

    // The printable notices carry the legal basis and the dates; printed without the chrome.
    await reg.click('[data-testid=result-notice]');
    const notice = await reg.textContent('[data-testid=notice-result]');
    assert.match(notice, /检验结果通知书/);
    assert.match(notice, /食品安全法/);
    await reg.goBack();
    await reg.click('[data-testid=rectification-order]');
    const order = await reg.textContent('[data-testid=notice-order]');
    assert.match(order, /责令整改通知书[\s\S]*ZG-NCP25120116001/);
    assert.match(order, /立即停止销售同批次芹菜/);
    assert.match(order, /法律依据/);
    await reg.emulateMedia({ media: 'print' });
    assert.equal(await reg.locator('header.top').isVisible(), false, 'no header when printed');
    assert.equal(await reg.locator('nav.main-nav').isVisible(), false, 'no navigation when printed');
    await screenshot(reg, 'sampling-rectification-order-print');
    await reg.emulateMedia({ media: 'screen' });

    // The list shows the sample with its overdue publication.
    await reg.goto(`${base}/console/sampling/samples?q=芹菜`);
    assert.match(await reg.textContent('[data-testid=samples]'), /NCP25120116001[\s\S]*已责令整改/);
    assert.ok(await reg.locator('[data-testid=overdue-badge]').count(), 'the 2025 publication deadline has passed');

    // The enterprise: only its own sample; it uploads evidence. Another enterprise sees nothing.
    const shop = await newPage(browser);
    await login(shop, base, 'shop', 'shop-password-1234');
    await shop.goto(`${base}/console/sampling/samples`);
    assert.equal(await shop.locator('[data-testid=samples] a[href*="/samples/"]').count(), 0, 'not its sample');
    const foreign = await shop.goto(sampleUrl);
    assert.equal(foreign.status(), 404);
    const farm = await newPage(browser);
    await login(farm, base, 'farm', 'farm-password-1234');
    await farm.click('nav.main-nav a:has-text("抽检")');
    await farm.click('[data-testid=samples] a:has-text("NCP25120116001")');
    assert.equal(await farm.locator('details[data-event=reinspect]').count(), 0, 'enterprises cannot verify');
    f = await action(farm, 'submit_evidence');
    await f.locator('[name=description]').fill('已下架同批次芹菜，更换农药供应商，开展用药培训');
    await f.locator('[name=files]').setInputFiles({ name: 'report.png', mimeType: 'image/png', buffer: PNG });
    await submit(farm, f, 'submit_evidence');
    assert.match(await farm.textContent('[data-testid=status]'), /已提交整改材料/);
    await screenshot(farm, 'sampling-enterprise-evidence');

    // The regulator verifies by re-inspection and publishes.
    await reg.goto(sampleUrl);
    assert.match(await reg.textContent('[data-testid=rectification]'), /更换农药供应商/);
    f = await action(reg, 'reinspect');
    await f.locator('[name=outcome]').selectOption('pass');
    await f.locator('[name=note]').fill('复查合格');
    await submit(reg, f, 'reinspect');
    assert.match(await reg.textContent('[data-testid=status]'), /已办结/);
    assert.match(await reg.textContent('[data-testid=rectification]'), /复查通过/);
    f = await action(reg, 'publish');
    await f.locator('[name=announcement_no]').fill('津滨市监抽〔2025〕12号');
    await f.locator('[name=announcement_date]').fill('2025-11-10');
    await submit(reg, f, 'publish');
    assert.match(await reg.textContent('[data-testid=publication]'), /津滨市监抽〔2025〕12号/);

    // Figures: every order rectified; the chart is our own SVG.
    await reg.goto(`${base}/console/sampling/figures`);
    assert.match(await reg.textContent('[data-testid=completion]'), /100\.0%/);
    assert.ok(await reg.locator('svg.bars-svg rect.fill').count() >= 1);
    await screenshot(reg, 'sampling-figures');

    // The public portal, without login: searchable, with the notice columns, exportable.
    await pub.goto(`${base}/`);
    await pub.click('nav.main-nav a:has-text("抽检信息公示")');
    await pub.fill('#f-q', '芹菜');
    await Promise.all([pub.waitForURL(/q=/), pub.click('form.filters button[type=submit]')]);
    const head = await pub.textContent('[data-testid=published] thead');
    for (const col of ['标称生产企业名称', '被抽样单位名称', '不合格项目║检验结果║标准值', '公告号', '检验机构']) assert.match(head, new RegExp(col));
    const row = await pub.textContent('[data-testid=published] tbody');
    assert.match(row, /天津滨海绿野蔬菜专业合作社/);
    assert.match(row, /毒死蜱║0\.052mg\/kg║≤0\.02mg\/kg/);
    assert.match(row, /津滨市监抽〔2025〕12号/);
    await screenshot(pub, 'portal-sampling-results');
    const xlsx = await fetch(new URL(await pub.getAttribute('[data-testid=export-xlsx]', 'href'), base));
    assert.equal(xlsx.status, 200);
    assert.match(xlsx.headers.get('content-type'), /spreadsheetml/);
    await pub.fill('#f-q', '不存在的产品');
    await Promise.all([pub.waitForURL(/q=/), pub.click('form.filters button[type=submit]')]);
    assert.equal(await pub.locator('[data-testid=published] tbody td.empty').count(), 1);

    for (const p of [reg, pub, shop, farm]) await p.context().close();
  });

  test('an admin loads a new year of the working-day calendar; a bad file is refused with the line', async () => {
    const page = await newPage(browser, { viewport: { width: 390, height: 844 } });
    await login(page, server.base, 'admin', 'admin-password-1234');
    await page.goto(`${server.base}/console/sampling/calendar`);
    assert.match(await page.textContent('[data-testid=calendar-missing]'), /2027/, 'the coming year has no data yet');
    await page.fill('#in-source', 'year 2027\noff 2027-13-01');
    await Promise.all([page.waitForNavigation(), page.click('[data-testid=calendar-form] button[type=submit]')]);
    assert.match(await page.textContent('[data-testid=calendar-error]'), /line 2/);
    await page.fill('#in-source', 'year 2027\noff 2027-01-01\noff 2027-02-05..2027-02-11\nwork 2027-02-14');
    await Promise.all([page.waitForURL(/loaded=2027/), page.click('[data-testid=calendar-form] button[type=submit]')]);
    assert.match(await page.textContent('[data-testid=calendar-years]'), /2027[\s\S]*管理员导入/);
    assert.equal(await page.locator('[data-testid=calendar-missing]').count(), 0);
    await screenshot(page, 'sampling-calendar-phone');
    await page.context().close();
  });
});
