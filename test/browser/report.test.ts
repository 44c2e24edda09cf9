/**
 * The run report and the graph page of a real tiny run (the built-in conv-lora-binary pipeline on
 * a tiny SAM, 2 epochs) opened in headless Chromium: no console errors, no network requests,
 * every chart SVG drawn with a size, every gallery picture decoded. Screenshots of both pages
 * are kept in the test's temporary folder (paths printed) to look at.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { train } from '../../src/api/training.ts';
import { compareMethods } from '../../pipelines/peft-comparison.ts';
import type { RunEvent } from '../../src/graph/events.ts';
import { SAM_PRESETS } from '../../src/nodes/sam/config.ts';
import { tempDir } from '../fixtures/datasets.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';

const TINY = {
  ...SAM_PRESETS.vit_b,
  image_size: 32, patch_size: 4, encoder_embed_dim: 32, encoder_depth: 2, encoder_num_heads: 2, encoder_global_attn_indexes: [1],
  window_size: 4, prompt_embed_dim: 32, decoder_mlp_dim: 64, decoder_num_heads: 2, iou_head_hidden_dim: 32,
};

/** Opens a local page, collecting every console error, page error, failed load and request that leaves the file. */
async function open(browser: Browser, file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('requestfailed', (r) => problems.push(`failed to load ${r.url()}`));
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('file:') || url.startsWith('data:')) return void r.continue();
    problems.push(`network request: ${url}`);
    void r.abort();
  });
  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems };
}

/** Each matching SVG's label, drawn size and how many shapes and texts it holds. */
const svgs = (page: Page, selector: string) =>
  page.$$eval(selector, (elements) =>
    elements.map((s) => {
      const box = s.getBoundingClientRect();
      return { label: s.getAttribute('aria-label') ?? '', width: box.width, height: box.height, shapes: s.querySelectorAll('path, rect, polygon, polyline, ellipse, circle').length, texts: s.querySelectorAll('text').length };
    }),
  );

describeWithChromium('the run report in a real browser', () => {
  let browser: Browser;
  let run: { dir: string; events: RunEvent[] };
  const shots = tempDir('samflow-report-shots-');

  beforeAll(async () => {
    const dir = tempDir('samflow-report-run-');
    writeFileSync(join(dir, 'tiny-arch.json'), JSON.stringify(TINY));
    const started = await train({ pipeline: 'conv-lora-binary', options: { arch: join(dir, 'tiny-arch.json'), train: 8, val: 4, batchSize: 2, epochs: 2 }, out: join(dir, 'run') });
    run = { dir: started.dir, events: await lastValueFrom(started.events.pipe(toArray())) };
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('report.html: charts, metric table, gallery and timing render, with no errors and no network', async () => {
    const finished = run.events.at(-1) as Extract<RunEvent, { type: 'finished' }>;
    expect(finished.type).toBe('finished');
    // Every timed stage: the source, the map nodes and the worker segment (batching is not timed).
    expect(finished.timing!.map((t) => t.nodes.join(','))).toEqual(['data', 'resize', 'flip', 'sam,peft,segment,structure,loss,optimizer', 'metrics', 'gallery']);
    const { page, problems } = await open(browser, join(run.dir, 'report.html'));
    const charts = await svgs(page, 'svg.chart');
    // loss, learning rate, metrics; expert usage over all layers and for each of the tiny SAM's 2 blocks.
    expect(charts.map((c) => c.label)).toEqual(['loss', 'learning rate', 'metrics per epoch (solid: validation, dashed: train)', 'all layers', 'layer 0', 'layer 1']);
    for (const c of charts) {
      expect(c.width, c.label).toBeGreaterThan(100);
      expect(c.height, c.label).toBeGreaterThan(100);
      expect(c.shapes, c.label).toBeGreaterThan(5);
      expect(c.texts, c.label).toBeGreaterThan(3);
    }
    const [graph] = await svgs(page, 'figure.graph svg');
    expect(graph!.width).toBeGreaterThan(200);
    expect(graph!.texts).toBeGreaterThan(10);
    // 4 validation images (all of them: fewer than the gallery's 8), 4 panels each, all decoded and shown.
    const images = await page.$$eval('.gallery img', (imgs) => imgs.map((i) => ({ alt: i.alt, complete: i.complete, natural: i.naturalWidth, shown: i.getBoundingClientRect().width })));
    expect(images).toHaveLength(16);
    for (const img of images) {
      expect(img.complete, img.alt).toBe(true);
      expect(img.natural, img.alt).toBe(32);
      expect(img.shown, img.alt).toBeGreaterThan(64);
    }
    const text = await page.$eval('body', (b) => b.innerText);
    expect(text).toContain('images/s');
    expect(text).toMatch(/tensor worker\s+sam, peft, segment, structure, loss, optimizer/);
    expect(text).toMatch(/random:\{/); // the base weights' id, from the adapter checkpoint
    expect(await page.$$eval('tr.best', (rows) => rows.length)).toBe(1);
    // Nothing wider than the window (long ids and JSON wrap).
    expect(await page.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(1400);
    const shot = join(shots, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`report screenshot: ${shot}`);
    expect(problems).toEqual([]);
  }, 60_000);

  it('graph.html: the graph picture renders, with no errors and no network', async () => {
    const { page, problems } = await open(browser, join(run.dir, 'graph.html'));
    const [graph] = await svgs(page, 'figure svg');
    expect(graph!.width).toBeGreaterThan(200);
    expect(graph!.height).toBeGreaterThan(100);
    expect(graph!.shapes).toBeGreaterThan(10);
    expect(await page.$eval('figure svg', (s) => s.textContent ?? '')).toContain('report/gallery');
    expect(await page.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(1400);
    const shot = join(shots, 'graph.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`graph screenshot: ${shot}`);
    expect(problems).toEqual([]);
  }, 60_000);

  it('the ta-lora-multitask report: the per-task gallery renders, with no errors and no network', async () => {
    const dir = tempDir('samflow-report-mtl-');
    writeFileSync(join(dir, 'tiny-arch.json'), JSON.stringify(TINY));
    const started = await train({ pipeline: 'ta-lora-multitask', options: { arch: join(dir, 'tiny-arch.json'), train: 4, val: 2, batchSize: 2, epochs: 1 }, out: join(dir, 'run') });
    await lastValueFrom(started.events.pipe(toArray()));
    const { page, problems } = await open(browser, join(started.dir, 'report.html'));
    // 2 val images × (image + truth and prediction of seg, depth, normal), all decoded and shown.
    const images = await page.$$eval('.gallery img', (imgs) => imgs.map((i) => ({ alt: i.alt, complete: i.complete, natural: i.naturalWidth, shown: i.getBoundingClientRect().width })));
    expect(images.map((i) => i.alt)).toEqual(['val 1', 'val 2'].flatMap((id) => ['image', 'seg truth', 'seg prediction', 'depth truth', 'depth prediction', 'normal truth', 'normal prediction'].map((h) => `${id}: ${h}`)));
    for (const img of images) {
      expect(img.complete, img.alt).toBe(true);
      expect(img.natural, img.alt).toBe(32);
      expect(img.shown, img.alt).toBeGreaterThan(64);
    }
    expect(await page.$eval('.legend', (l) => (l as unknown as { innerText: string }).innerText)).toMatch(/depth: low\s+high/);
    expect(await page.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(1400);
    const shot = join(shots, 'report-multitask.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`multitask report screenshot: ${shot}`);
    expect(problems).toEqual([]);
  }, 60_000);

  it('the comparison report (npm start): table, charts and the same images under each method render, with no errors and no network', async () => {
    const dir = tempDir('samflow-report-compare-');
    const outcome = await compareMethods({
      out: join(dir, 'cmp'),
      methods: ['conv-lora', 'lora'],
      pretrain: { arch: TINY, epochs: 1, train: 8, val: 0, batchSize: 4 },
      cacheDir: join(dir, 'cache'),
      synthetic: { size: 32, splits: { train: 8, val: 4, test: 6 } },
      options: { epochs: 1 },
    });
    const { page, problems } = await open(browser, outcome.report);
    const rows = await page.$$eval('table.comparison tbody tr', (trs) => trs.map((tr) => (tr as unknown as { innerText: string }).innerText.split('\t')[0]));
    expect(rows).toEqual(['base (no fine-tuning)', 'conv-lora', 'lora']);
    // Each run's report is a link that resolves to a file that exists.
    const links = await page.$$eval('table.comparison a', (as) => as.map((a) => (a as unknown as { href: string }).href));
    expect(links.map((l) => l.replace(/^file:\/\//, ''))).toEqual([join(outcome.out, 'conv-lora', 'report.html'), join(outcome.out, 'lora', 'report.html')]);
    const charts = await svgs(page, 'svg.chart');
    expect(charts.map((c) => c.label)).toEqual(['test: higher is better', 'test: lower is better']);
    for (const c of charts) {
      expect(c.width, c.label).toBeGreaterThan(200);
      expect(c.shapes, c.label).toBeGreaterThan(5);
    }
    // 6 test images x (image, truth, base, conv-lora, lora), all decoded and shown.
    const images = await page.$$eval('.gallery img', (imgs) => imgs.map((i) => ({ alt: i.alt, complete: i.complete, natural: i.naturalWidth, shown: i.getBoundingClientRect().width })));
    expect(images).toHaveLength(30);
    for (const img of images) {
      expect(img.complete, img.alt).toBe(true);
      expect(img.natural, img.alt).toBe(32);
      expect(img.shown, img.alt).toBeGreaterThan(64);
    }
    expect(await page.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(1400);
    const shot = join(shots, 'comparison.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`comparison report screenshot: ${shot}`);
    expect(problems).toEqual([]);
  }, 120_000);
});
