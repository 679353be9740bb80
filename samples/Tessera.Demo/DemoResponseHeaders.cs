namespace Tessera.Demo;

/// <summary>
/// The headers every response of the demo carries. Both are set when the response starts, so they are on every answer,
/// error pages and problem documents included, whatever wrote it.
/// </summary>
internal static class DemoResponseHeaders
{
    /// <summary>
    /// No page of the demo may be framed by another site (clickjacking a "Sign out" or "Revoke" button):
    /// <c>Content-Security-Policy: frame-ancestors 'none'</c> for current browsers, <c>X-Frame-Options: DENY</c> for old
    /// ones. On every response, static pages included, and first in the pipeline so nothing answers without them.
    /// </summary>
    public static IApplicationBuilder UseFrameDenial(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(static state =>
        {
            var headers = ((HttpResponse)state).Headers;
            headers.ContentSecurityPolicy = "frame-ancestors 'none'";
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            return Task.CompletedTask;
        }, context.Response);
        return next(context);
    });

    /// <summary>
    /// <c>Cache-Control: no-store</c> on every response that was not a static file: they all come from a session (a
    /// cart, a user's devices, an operator's view) or say something about one, and no browser or proxy cache may keep
    /// them for the next person. Tessera marks a response <c>no-store</c> only when it sets or clears a cookie or hands
    /// out tokens; <c>GET /me</c> with an existing cookie sets none, so the application has to. Goes after the static
    /// files, which stay cacheable; a response that chose its own <c>Cache-Control</c> keeps it.
    /// </summary>
    public static IApplicationBuilder UseNoStoreForDynamicResponses(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(static state =>
        {
            var headers = ((HttpResponse)state).Headers;
            if (string.IsNullOrEmpty(headers.CacheControl))
            {
                headers.CacheControl = "no-store";
            }
            return Task.CompletedTask;
        }, context.Response);
        return next(context);
    });
}
