// CloudFront Function (runtime cloudfront-js-2.0, viewer-request): single-page-app routing.
//
// - A path whose last segment has a file extension (`/assets/app-3f9a1c.js`, `/favicon.ico`)
//   is a file: it goes to S3 unchanged, so a missing asset stays a 404 instead of HTML.
// - Anything else (`/`, `/projects/42`, `/settings/`) is an app route: rewritten to
//   `/index.html`, so deep links load the app with status 200 and the client router takes over.
// - `/.well-known/...` is always passed through (verification files often have no extension).
//
// Plain ES5.1-style JavaScript with no exports: the CloudFront runtime calls `handler`.
// tests/edge/router.test.mjs evaluates this file's text and checks a table of paths.
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.indexOf('/.well-known/') === 0) {
    return request;
  }
  var lastSegment = uri.substring(uri.lastIndexOf('/') + 1);
  if (lastSegment.indexOf('.') > 0 && lastSegment.lastIndexOf('.') < lastSegment.length - 1) {
    return request;
  }
  request.uri = '/index.html';
  return request;
}
