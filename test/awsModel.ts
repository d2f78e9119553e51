/**
 * Checks values against the AWS API models in test/reference (botocore JSON, copied with their
 * sources named in test/reference/README.md): field names,
 * nesting, required members, types and enum values, as the service would when it receives them.
 */
import * as fs from "fs";
import * as path from "path";

/** The reference files kept in the repository: a plain clone needs nothing beside it. */
export const REFERENCE_DIR = path.resolve(__dirname, "reference");

interface Shape {
  type: string;
  members?: Record<string, { shape: string }>;
  required?: string[];
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  enum?: string[];
  min?: number;
  max?: number;
}

export interface ApiModel {
  operations: Record<string, { input?: { shape: string } }>;
  shapes: Record<string, Shape>;
}

export function loadModel(file: string): ApiModel {
  return JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, file), "utf8")) as ApiModel;
}

/** Every way `value` differs from `shapeName`, as `path: problem` lines; empty when it fits. */
export function validateShape(
  model: ApiModel,
  shapeName: string,
  value: unknown,
  at = shapeName,
): string[] {
  const shape = model.shapes[shapeName];
  if (shape === undefined) return [`${at}: the model has no shape ${shapeName}`];
  switch (shape.type) {
    case "structure": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return [`${at}: expected an object`];
      }
      const record = value as Record<string, unknown>;
      const problems = (shape.required ?? [])
        .filter((member) => record[member] === undefined)
        .map((member) => `${at}.${member}: required`);
      for (const [key, member] of Object.entries(record)) {
        const declared = shape.members?.[key];
        if (declared === undefined) problems.push(`${at}.${key}: not a member of ${shapeName}`);
        else problems.push(...validateShape(model, declared.shape, member, `${at}.${key}`));
      }
      return problems;
    }
    case "list":
      if (!Array.isArray(value)) return [`${at}: expected a list`];
      return value.flatMap((item, index) =>
        validateShape(model, shape.member!.shape, item, `${at}[${index}]`),
      );
    case "map":
      if (value === null || typeof value !== "object") return [`${at}: expected a map`];
      return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => [
        ...validateShape(model, shape.key!.shape, key, `${at} key ${key}`),
        ...validateShape(model, shape.value!.shape, item, `${at}.${key}`),
      ]);
    case "string":
      if (typeof value !== "string") return [`${at}: expected a string`];
      if (shape.enum && !shape.enum.includes(value)) {
        return [`${at}: ${JSON.stringify(value)} is not one of ${shape.enum.join(", ")}`];
      }
      return [];
    case "integer":
    case "long":
      if (!Number.isInteger(value)) return [`${at}: expected an integer`];
      if (shape.min !== undefined && (value as number) < shape.min)
        return [`${at}: below ${shape.min}`];
      if (shape.max !== undefined && (value as number) > shape.max)
        return [`${at}: above ${shape.max}`];
      return [];
    case "boolean":
      return typeof value === "boolean" ? [] : [`${at}: expected a boolean`];
    case "double":
    case "float":
      return typeof value === "number" ? [] : [`${at}: expected a number`];
    case "timestamp":
      return typeof value === "string" || typeof value === "number"
        ? []
        : [`${at}: expected a time`];
    default:
      return [`${at}: shape type ${shape.type} is not checked`];
  }
}
