import { expect, test } from "@playwright/test";
import { live, post, signIn } from "./support";

test("a trace opens from the drawer as a timeline, oldest step first, the failure marked", async ({ page, request }) => {
  const stamp = Date.now();
  const token = `tracetoken${stamp}`;
  const trace = `e2e-trace-${stamp}`;
  const at = (secondsAgo: number) => new Date(stamp - secondsAgo * 1000).toISOString();
  // Sent newest first: the timeline orders them.
  await post(request, [
    { occurred_at: at(1), project: "e2e-shop", module: "Campaigns", action: "publish", description: `${token} published`, trace_id: trace },
    {
      occurred_at: at(3), project: "e2e-shop", module: "Delivery", action: "schedule", description: `${token} scheduled`,
      trace_id: trace, result: "failure", error: "Delivery quota exceeded", details: { attempt: 2, status: 429 },
    },
    { occurred_at: at(5), project: "e2e-shop", module: "Campaigns", action: "validate", description: `${token} validated`, trace_id: trace },
  ]);

  await signIn(page, "admin@e2e.test", `/?project=e2e-shop&q=${token}`);
  await live(page);
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(3);
  await rows.first().click();
  await page.getByTestId("drawer").getByTestId("view-trace").click();
  await expect(page).toHaveURL(new RegExp(`/traces/${trace}$`));
  await live(page);

  const steps = page.getByTestId("trace-step");
  await expect(steps).toHaveCount(3);
  await expect(steps.nth(0)).toContainText("Campaigns / validate");
  await expect(steps.nth(1)).toContainText("Delivery / schedule");
  await expect(steps.nth(2)).toContainText("Campaigns / publish");
  await expect(steps.nth(0)).toContainText("start");
  await expect(steps.nth(1)).toContainText("+2.0 s");
  await expect(steps.nth(1)).toHaveAttribute("data-result", "failure");
  await expect(steps.nth(1).getByTestId("step-error")).toHaveText("Delivery quota exceeded");
  await expect(page.getByTestId("trace-summary")).toContainText("3 steps over 4.0 s, 1 failed");
  await steps.nth(1).getByText("Details").click();
  await expect(steps.nth(1).locator("pre.json")).toContainText('"status": 429');
  await page.screenshot({ path: test.info().outputPath("trace.png"), fullPage: true });

  // Pasting the id into the search box finds the same trace.
  await page.goto("/traces");
  await page.getByTestId("trace-id").fill(trace);
  await page.getByRole("button", { name: "Show trace" }).click();
  await expect(page).toHaveURL(new RegExp(`/traces\\?id=${trace}$`));
  await expect(page.getByTestId("trace-step")).toHaveCount(3);
});

test("a viewer (no logs.view_details) is told a trace needs it", async ({ page }) => {
  await signIn(page, "viewer@e2e.test", "/traces/any-trace");
  await expect(page.getByTestId("trace-error")).toContainText("logs.view_details");
});
