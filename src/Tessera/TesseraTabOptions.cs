namespace Tessera;

/// <summary>
/// Options of per-tab scopes (<see cref="TesseraSession.IssueTab"/>), section <c>Tessera:Tabs</c>: how many tabs one
/// session keeps, and where the ASP.NET Core helpers look for a request's tab id.
/// </summary>
public sealed class TesseraTabOptions
{
    /// <summary>
    /// The most tabs one session keeps. Default <see cref="TesseraDefaults.MaxTabsPerSession"/> (10); 1 to 1,000.
    /// Issuing a tab beyond it first closes the least recently used ones (their data goes with them).
    /// </summary>
    public int MaxTabsPerSession { get; set; } = TesseraDefaults.MaxTabsPerSession;

    /// <summary>
    /// Where the ASP.NET Core helper (<c>HttpContext.GetTesseraTabId()</c>) reads a request's tab id from. Default
    /// <see cref="TabIdSource.Header"/>. The core never reads requests; this only tells the helper.
    /// </summary>
    public TabIdSource Source { get; set; } = TabIdSource.Header;

    /// <summary>
    /// The header, query parameter or route value that carries the tab id. Default <see langword="null"/>:
    /// <see cref="TesseraDefaults.TabHeaderName"/> (<c>X-Tessera-Tab</c>) for a header,
    /// <see cref="TesseraDefaults.TabParameterName"/> (<c>tab</c>) for a query parameter or route value. At most 100
    /// characters; a header name must be a valid HTTP token.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>The name in force: <see cref="Name"/>, or the default for <see cref="Source"/>.</summary>
    public string EffectiveName => Name ?? (Source == TabIdSource.Header ? TesseraDefaults.TabHeaderName : TesseraDefaults.TabParameterName);

    internal static void Validate(TesseraTabOptions tabs, List<string> failures)
    {
        if (tabs.MaxTabsPerSession is < 1 or > 1000)
        {
            failures.Add("Tessera:Tabs:MaxTabsPerSession must be between 1 and 1000.");
        }
        if (!Enum.IsDefined(tabs.Source))
        {
            failures.Add("Tessera:Tabs:Source must be Header, Query or RouteValue.");
        }
        var name = tabs.EffectiveName;
        if (name.Length is 0 or > 100 || name.Any(char.IsControl))
        {
            failures.Add("Tessera:Tabs:Name must be 1 to 100 characters without control characters.");
        }
        else if (tabs.Source == TabIdSource.Header && !name.All(IsHeaderTokenChar))
        {
            failures.Add("Tessera:Tabs:Name must be a valid header name (letters, digits and !#$%&'*+-.^_`|~) when Source is Header.");
        }
    }

    private static bool IsHeaderTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);
}

/// <summary>Where a request carries its tab id (see <see cref="TesseraTabOptions.Source"/>).</summary>
public enum TabIdSource
{
    /// <summary>A request header (default <c>X-Tessera-Tab</c>): what a page's <c>fetch</c> calls send.</summary>
    Header = 0,

    /// <summary>A query parameter (default <c>tab</c>): works for links and forms without script.</summary>
    Query = 1,

    /// <summary>A route value (default <c>{tab}</c>), as in <c>/pos/{tab}/cart</c>.</summary>
    RouteValue = 2,
}
