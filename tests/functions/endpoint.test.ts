/**
 * A declaration that could let a call through unchecked fails when its module loads: "organization" access
 * needs exactly one organization id field to check, and a rate limit needs a tenant to count against.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { endpoint } from "../../functions/endpoint.ts";
import { json } from "../../functions/http.ts";
import { organizationFields, organizationId } from "../../functions/organization-id.ts";

const run = async () => json(200, {});

describe("endpoint declarations", () => {
  it("find organization id fields behind optional and default, and only those", () => {
    const schema = z.object({
      organization_id: organizationId,
      other_org: organizationId.optional(),
      fallback: organizationId.default("x"),
      name: z.string(),
    });
    expect(organizationFields(schema)).toEqual(["organization_id", "other_org", "fallback"]);
  });

  it("refuse organization access without exactly one organization id field", () => {
    for (const input of [
      z.object({ organization: z.string() }),
      z.object({ a: organizationId, b: organizationId }),
    ]) {
      expect(() =>
        endpoint({ name: "x", methods: ["GET"], from: "query", input, access: "organization", run }),
      ).toThrow('x: access "organization" needs exactly one organization id field');
    }
  });

  it("refuse a rate limit on an endpoint that names no organization", () => {
    expect(() =>
      endpoint({
        name: "y",
        methods: ["POST"],
        from: "body",
        input: z.object({}),
        access: "super_admin",
        rateLimit: { kind: "restore", refund: () => false },
        run,
      }),
    ).toThrow('y: a rate limit needs access "organization"');
    expect(
      endpoint({
        name: "z",
        methods: ["POST"],
        from: "body",
        input: z.object({}),
        access: "super_admin",
        run,
      }).name,
    ).toBe("z");
  });
});
