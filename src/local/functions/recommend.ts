// The recommend function: the legacy app's /api/recommend, moved behind a function trigger.
import { isProblem, problems, recommend } from '../catalog.ts';
import { type FunctionEvent, type FunctionResult, jsonResult } from '../event.ts';

export function handler(event: FunctionEvent): FunctionResult {
  if (event.rawPath !== '/api/recommend') return jsonResult(404, problems.routeNotFound);
  const method = event.requestContext.http.method;
  if (method !== 'GET' && method !== 'HEAD')
    return jsonResult(405, problems.methodNotAllowed, { allow: 'GET, HEAD' });
  // Parsed from the raw string, not queryStringParameters, so duplicates resolve as the legacy app does.
  const query = new URLSearchParams(event.rawQueryString);
  const userId = query.get('userId') || event.headers['x-user-id'];
  const result = recommend({ userId, scene: query.get('scene'), size: query.get('size') });
  return jsonResult(isProblem(result) ? result.status : 200, result);
}
