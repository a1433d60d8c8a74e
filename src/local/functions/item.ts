// The item function: the legacy app's /api/item/:id, moved behind a function trigger.
import { getItem, problems } from '../catalog.ts';
import { type FunctionEvent, type FunctionResult, jsonResult } from '../event.ts';

const ITEM_PATH = /^\/api\/item\/([^/]+)$/;

export function handler(event: FunctionEvent): FunctionResult {
  const match = ITEM_PATH.exec(event.rawPath);
  if (!match) return jsonResult(404, problems.routeNotFound);
  const method = event.requestContext.http.method;
  if (method !== 'GET' && method !== 'HEAD')
    return jsonResult(405, problems.methodNotAllowed, { allow: 'GET, HEAD' });
  const item = getItem(match[1]!);
  return item ? jsonResult(200, item) : jsonResult(404, problems.itemNotFound);
}
