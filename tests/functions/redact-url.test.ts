/**
 * Credentials in a URL never reach a log line, however the parameter name is spelled: the server decodes
 * names (`?%73ecret=` is `?secret=` to URLSearchParams, and lets the cron secret in), so redaction judges
 * the decoded name too.
 */
import { describe, expect, it } from "vitest";
import { redactUrl } from "../../lib/logger.ts";

const NAMES = ["secret", "token", "apikey", "api_key", "access_token", "key"];

/** Every character of the name percent-encoded, as a client may send it. */
const encoded = (name: string) => [...name].map((c) => `%${c.charCodeAt(0).toString(16)}`).join("");

describe("redactUrl", () => {
  it.each(NAMES)("redacts %s by its plain, upper-case, partly and fully percent-encoded names", (name) => {
    for (const spelling of [
      name,
      name.toUpperCase(),
      `%${name.charCodeAt(0).toString(16)}${name.slice(1)}`,
      encoded(name),
    ]) {
      const url = `https://site.example/.netlify/functions/x?a=1&${spelling}=s3cr3t-value&b=2#frag`;
      const redacted = redactUrl(url);
      expect(redacted).not.toContain("s3cr3t-value");
      expect(redacted).toBe(`https://site.example/.netlify/functions/x?a=1&${spelling}=[REDACTED]&b=2#frag`);
    }
  });

  it("checks that the names the server reads are the names redacted", () => {
    for (const name of NAMES) {
      const params = new URL(`https://x/?${encoded(name)}=v`).searchParams;
      expect(params.get(name)).toBe("v");
    }
  });

  it("leaves other parameters, look-alike names and malformed escapes alone, and works inside any text", () => {
    const url = "https://x/?secretary=a&keys=b&monkey=c&%zz=d&%7=e";
    expect(redactUrl(url)).toBe(url);
    expect(redactUrl("could not reach https://x/?%6Bey=abc (refused)")).toBe(
      "could not reach https://x/?%6Bey=[REDACTED] (refused)",
    );
    expect(redactUrl("?secret=")).toBe("?secret=[REDACTED]");
  });
});
