using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore;

/// <summary>
/// Reads a request's tab id from where <see cref="TesseraTabOptions.Source"/> says (the <c>X-Tessera-Tab</c> header by
/// default) and opens the tab's scope in the request's session; see <see cref="TesseraSession.IssueTab"/>.
/// </summary>
public static class HttpContextTabExtensions
{
    /// <summary>
    /// The tab id the request carries in the header, query parameter or route value that
    /// <see cref="TesseraTabOptions"/> names, as sent and not yet checked (pass it to <see cref="TesseraSession.FindTab"/>).
    /// <see langword="null"/> when it is absent or empty, and when a header or query parameter is sent more than once:
    /// two values never pick a tab.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>The tab id text, or <see langword="null"/>.</returns>
    /// <exception cref="InvalidOperationException"><c>AddTessera()</c> was not called.</exception>
    public static string? GetTesseraTabId(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var tabs = context.RequestServices.GetRequiredService<IOptions<TesseraOptions>>().Value.Tabs;
        var name = tabs.EffectiveName;
        var value = tabs.Source switch
        {
            TabIdSource.Query => Single(context.Request.Query[name]),
            TabIdSource.RouteValue => context.Request.RouteValues[name] as string,
            _ => Single(context.Request.Headers[name]),
        };
        return string.IsNullOrEmpty(value) ? null : value;
    }

    /// <summary>
    /// The request's tab: loads the request's session (one store read at most) and opens the scope of the tab id the
    /// request carries (<see cref="GetTesseraTabId"/>). <see langword="null"/> when the request carries none, or one the
    /// session did not issue (guessed, from another session, closed or evicted); the page then asks for a new tab.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>The tab's scope, or <see langword="null"/>.</returns>
    /// <exception cref="InvalidOperationException">Sessions are disabled for this endpoint, or Tessera is not set up.</exception>
    public static async ValueTask<TabScope?> GetTesseraTabAsync(this HttpContext context)
    {
        var session = await context.GetTesseraSessionAsync().ConfigureAwait(false);
        return session.FindTab(context.GetTesseraTabId());
    }

    private static string? Single(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 1 ? values[0] : null;
}
