// The feedback function: the legacy app's POST /api/feedback, moved behind a function trigger.
import { FEEDBACK_LIMIT_BYTES, isProblem, problems, recordFeedback } from '../catalog.ts';
import { eventBody, type FunctionEvent, type FunctionResult, jsonResult } from '../event.ts';

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export function handler(event: FunctionEvent): FunctionResult {
  if (event.rawPath !== '/api/feedback') return jsonResult(404, problems.routeNotFound);
  if (event.requestContext.http.method !== 'POST')
    return jsonResult(405, problems.methodNotAllowed, { allow: 'POST' });
  const body = eventBody(event);
  // The platform allows 6 MiB; the app's own, smaller cap keeps answers the same on both sides.
  if (body.length > FEEDBACK_LIMIT_BYTES) return jsonResult(413, problems.bodyTooLarge);
  const parsed = parseJson(body.toString('utf8'));
  if (!parsed.ok) return jsonResult(400, problems.invalidJson);
  const result = recordFeedback(parsed.value, event.headers['x-user-id']);
  return jsonResult(isProblem(result) ? result.status : 202, result);
}
