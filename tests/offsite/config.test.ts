import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../lib/config.ts";

const base = { DATABASE_URL: "postgres://x@localhost/x" };
const full = {
  OFFSITE_S3_BUCKET: "tenant-copies",
  OFFSITE_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
  OFFSITE_S3_SECRET_ACCESS_KEY: "secret-example-value",
};

function variableOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain("secret-example-value");
    return (err as ConfigError).variable;
  }
  throw new Error("the configuration was accepted");
}

describe("off-site configuration", () => {
  it("is off without a bucket, and reads every variable with its default", () => {
    expect(loadConfig(base).offsite).toBeUndefined();
    expect(loadConfig({ ...base, ...full }).offsite).toEqual({
      endpoint: undefined,
      region: "us-east-1",
      bucket: "tenant-copies",
      prefix: "",
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: "secret-example-value",
      forcePathStyle: false,
      retentionDays: 90,
    });
    const r2 = loadConfig({
      ...base,
      ...full,
      OFFSITE_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com",
      OFFSITE_S3_REGION: "auto",
      OFFSITE_S3_PREFIX: "tenant-backup",
      OFFSITE_S3_FORCE_PATH_STYLE: "true",
      OFFSITE_RETENTION_DAYS: "120",
    }).offsite;
    expect(r2).toMatchObject({
      region: "auto",
      prefix: "tenant-backup/",
      forcePathStyle: true,
      retentionDays: 120,
    });
  });

  it("names the variable that is missing or wrong, never the secret", () => {
    expect(variableOf({ OFFSITE_S3_ENDPOINT: "https://s3.example.com" })).toBe("OFFSITE_S3_BUCKET");
    expect(variableOf({ OFFSITE_S3_BUCKET: "tenant-copies" })).toBe("OFFSITE_S3_ACCESS_KEY_ID");
    expect(variableOf({ ...full, OFFSITE_S3_SECRET_ACCESS_KEY: "" })).toBe("OFFSITE_S3_SECRET_ACCESS_KEY");
    expect(variableOf({ ...full, OFFSITE_S3_BUCKET: "Not_A_Bucket" })).toBe("OFFSITE_S3_BUCKET");
    expect(variableOf({ ...full, OFFSITE_S3_ENDPOINT: "ftp://x" })).toBe("OFFSITE_S3_ENDPOINT");
    expect(variableOf({ ...full, OFFSITE_S3_PREFIX: "a/../b/" })).toBe("OFFSITE_S3_PREFIX");
    expect(variableOf({ ...full, OFFSITE_S3_FORCE_PATH_STYLE: "maybe" })).toBe("OFFSITE_S3_FORCE_PATH_STYLE");
    expect(variableOf({ ...full, OFFSITE_RETENTION_DAYS: "0" })).toBe("OFFSITE_RETENTION_DAYS");
  });
});
