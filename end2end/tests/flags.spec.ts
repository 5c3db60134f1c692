import { expect, test } from "@playwright/test";
import { hydrated, live, post, signIn } from "./support";

test("an event flagged from the drawer with a note is found again with the Flagged filter after reload", async ({ page, request }) => {
  const token = `flagtoken${Date.now()}`;
  const now = Date.now();
  const [first, second] = await post(request, [0, 1].map((i) => ({
    occurred_at: new Date(now - i * 60_000).toISOString(),
    project: "e2e-shop",
    module: "Orders",
    action: "refund",
    description: `${token} refund ${i}`,
  })));

  await signIn(page, "admin@e2e.test", `/?project=e2e-shop&q=${token}`);
  await hydrated(page);
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(2);
  await rows.nth(1).click();
  await expect(page).toHaveURL(new RegExp(`/events/${second}\\?`));
  const panel = page.getByTestId("flag-panel");
  await panel.getByTestId("flag-note-input").fill("ask finance about this refund");
  await panel.getByTestId("flag").click();
  await expect(panel.getByTestId("flag-state")).toContainText("Flagged by admin@e2e.test");
  await expect(panel.getByTestId("flag-note")).toContainText("ask finance about this refund");
  await page.screenshot({ path: test.info().outputPath("flagged.png") });

  // The flag is stored: after a reload, the Flagged filter finds this event and not the other.
  await page.goto(`/?project=e2e-shop&q=${token}`);
  await hydrated(page);
  await page.getByTestId("f-flagged").selectOption("true");
  await page.getByTestId("apply").click();
  await expect(page).toHaveURL(/flagged=true/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-id", second);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("f-flagged")).toHaveValue("true");
  await expect(rows).toHaveCount(1);

  // Cleared, it is gone from the flagged list; the other was never flagged.
  await rows.first().click();
  await live(page);
  await page.getByTestId("flag-panel").getByTestId("unflag").click();
  await expect(page.getByTestId("flag-panel").getByTestId("flag")).toBeVisible();
  await page.goto(`/?project=e2e-shop&q=${token}&flagged=true`);
  await live(page);
  await expect(page.getByTestId("empty")).toBeVisible();
  await page.goto(`/?project=e2e-shop&q=${token}&flagged=false`);
  await hydrated(page);
  await expect(rows).toHaveCount(2);
  await expect(page.locator(`[data-testid="event-row"][data-id="${first}"]`)).toHaveCount(1);
});

test("a flag set in the table stays after reload, is found by the filter and clears there too", async ({ page, request, browser }) => {
  const token = `tableflag${Date.now()}`;
  const now = Date.now();
  const [newer, older] = await post(request, [0, 1].map((i) => ({
    occurred_at: new Date(now - i * 60_000).toISOString(),
    project: "e2e-shop",
    module: "Orders",
    action: "cancel",
    description: `${token} cancel ${i}`,
  })));
  const list = `/?project=e2e-shop&q=${token}`;
  await signIn(page, "admin@e2e.test", list);
  await hydrated(page);
  const row = (id: string) => page.locator(`[data-testid="event-row"][data-id="${id}"]`);
  const toggle = row(older).getByTestId("flag-toggle");
  await expect(toggle).toHaveAttribute("aria-pressed", "false");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-pressed", "true");
  // The click flags; it does not open the drawer.
  await expect(page).not.toHaveURL(/\/events\//);
  await page.screenshot({ path: test.info().outputPath("table-flag.png") });

  await page.reload();
  await hydrated(page);
  await expect(row(older).getByTestId("flag-toggle")).toHaveAttribute("aria-pressed", "true");
  await expect(row(newer).getByTestId("flag-toggle")).toHaveAttribute("aria-pressed", "false");
  await page.goto(`${list}&flagged=true`);
  await hydrated(page);
  await expect(page.getByTestId("event-row")).toHaveCount(1);
  await expect(row(older)).toHaveCount(1);

  // A viewer sees the mark, with no way to change it.
  const viewer = await (await browser.newContext()).newPage();
  await signIn(viewer, "viewer@e2e.test", `${list}&flagged=true`);
  await hydrated(viewer);
  const seen = viewer.locator(`[data-testid="event-row"][data-id="${older}"]`);
  await expect(seen.getByTestId("flag-mark")).toBeVisible();
  await expect(viewer.getByTestId("flag-toggle")).toHaveCount(0);

  await row(older).getByTestId("flag-toggle").click();
  await expect(row(older).getByTestId("flag-toggle")).toHaveAttribute("aria-pressed", "false");
  await page.reload();
  await live(page);
  await expect(page.getByTestId("empty")).toBeVisible();
});
