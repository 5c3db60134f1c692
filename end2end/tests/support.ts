import { expect, type APIRequestContext, type Page, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Every user e2e-server.sh creates has this password. */
export const PASSWORD = "e2e password, not a secret";

/** The API key e2e-server.sh created for the server behind this project's baseURL. */
export const apiKey = (baseURL: string) =>
  readFileSync(join(process.env.E2E_DIR!, new URL(baseURL).port, "api-key"), "utf8").trim();

/** Posts events through the REST API, as an application would, and returns their ids. */
export async function post(request: APIRequestContext, events: object[]): Promise<string[]> {
  const baseURL = test.info().project.use.baseURL!;
  const res = await request.post("/api/v1/events", {
    headers: { Authorization: `Bearer ${apiKey(baseURL)}` },
    data: events,
  });
  expect(res.status()).toBe(201);
  return (await res.json()).ids;
}

/** A minimal RFC 4180 reader: quoted cells may hold commas, quotes and newlines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n") { row.push(cell); rows.push(row); row = []; cell = ""; }
    else if (c !== "\r") cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** Waits until the WASM app has hydrated: the time column then names the browser's zone. */
export async function hydrated(page: Page) {
  await expect(page.getByRole("columnheader", { name: "Time (Europe/Berlin)" })).toBeVisible();
}

/** Waits until the WASM app is live (on any page): its buttons then work. */
export async function live(page: Page) {
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
}

/** Signs in through the sign-in page, as a person would, and waits to land on `next`. */
export async function signIn(page: Page, email: string, next = "/", password = PASSWORD) {
  await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
}

/** Adds a user through the admin page, signed in as the e2e admin, and returns the password
 *  the page shows once. */
export async function addUser(page: Page, email: string, role: string): Promise<string> {
  await signIn(page, "admin@e2e.test", "/admin/users");
  await live(page);
  await page.getByTestId("new-email").fill(email);
  await page.getByTestId("new-role").selectOption(role);
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByTestId("shown-once")).toContainText(`Created ${email}.`);
  return (await page.getByTestId("secret").textContent())!.trim();
}
