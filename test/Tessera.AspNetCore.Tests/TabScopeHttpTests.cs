using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// Per-tab scopes over HTTP (a real Kestrel server and client): one browser, two tabs, two carts; the tab id read from a
/// header, a query parameter or a route value as configured; ids the session did not issue, or sent twice, open nothing.
/// </summary>
public sealed class TabScopeHttpTests : HttpConformanceTestBase<InMemoryStoreKit>
{
    private const string Header = "X-Tessera-Tab";

    [Fact]
    public async Task TwoTabsOfOneBrowserKeepSeparateCarts()
    {
        var server = await StartTestServerAsync(Store, null, MapTabRoutes);
        using var browser = new CookieJarClient(server.Address);
        using var otherBrowser = new CookieJarClient(server.Address);

        var first = await IssueAsync(browser);
        var second = await IssueAsync(browser);
        await AddAsync(browser, "/tab-cart/apple", (Header, first));
        await AddAsync(browser, "/tab-cart/pear", (Header, second));
        await AddAsync(browser, "/tab-cart/plum", (Header, second));
        var foreign = await IssueAsync(otherBrowser);

        Assert.Equal((HttpStatusCode.OK, "apple"), await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, first)));
        Assert.Equal((HttpStatusCode.OK, "pear,plum"), await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, second)));
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, foreign))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await otherBrowser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, first))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Post, "/tab-cart/fig", (Header, foreign))).Status);
        Assert.Equal((HttpStatusCode.OK, ""), await otherBrowser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, foreign)));
    }

    [Fact]
    public async Task TwoRequestsInTwoTabsAtOnceBothKeepTheirItems()
    {
        var server = await StartTestServerAsync(Store, null, MapTabRoutes);
        using var browser = new CookieJarClient(server.Address);
        var tabs = new[] { await IssueAsync(browser), await IssueAsync(browser), await IssueAsync(browser) };

        // One add per tab, all at once: each writes its own tab's key, so none is lost.
        await Task.WhenAll(tabs.Select((tab, i) => AddAsync(browser, $"/tab-cart/item{i}", (Header, tab))));

        for (var i = 0; i < tabs.Length; i++)
        {
            Assert.Equal((HttpStatusCode.OK, $"item{i}"), await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, tabs[i])));
        }
    }

    [Fact]
    public async Task TheTabIdCanTravelInAQueryParameter()
    {
        var server = await StartTestServerAsync(Store, o => o.Tabs.Source = TabIdSource.Query, MapTabRoutes);
        using var browser = new CookieJarClient(server.Address);
        var tab = await IssueAsync(browser);

        await AddAsync(browser, $"/tab-cart/apple?tab={tab}");

        Assert.Equal((HttpStatusCode.OK, "apple"), await browser.CallAsync(HttpMethod.Get, $"/tab-cart?tab={tab}"));
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, tab))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, $"/tab-cart?tab={tab}&tab={tab}")).Status);
    }

    [Fact]
    public async Task TheTabIdCanTravelInARouteValueUnderAConfiguredName()
    {
        var server = await StartTestServerAsync(Store, o =>
        {
            o.Tabs.Source = TabIdSource.RouteValue;
            o.Tabs.Name = "terminal";
        }, MapTabRoutes);
        using var browser = new CookieJarClient(server.Address);
        var tab = await IssueAsync(browser);

        await AddAsync(browser, $"/terminals/{tab}/cart/apple");

        Assert.Equal((HttpStatusCode.OK, "apple"), await browser.CallAsync(HttpMethod.Get, $"/terminals/{tab}/cart"));
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, $"/terminals/{tab[..21]}{(tab[21] == 'A' ? 'Q' : 'A')}/cart")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, $"/tab-cart?tab={tab}", (Header, tab))).Status);
    }

    [Fact]
    public async Task ATabIdHeaderSentTwiceOpensNothing()
    {
        var server = await StartTestServerAsync(Store, null, MapTabRoutes);
        using var browser = new CookieJarClient(server.Address);
        var tab = await IssueAsync(browser);
        var other = await IssueAsync(browser);

        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, tab), (Header, other))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, $"{tab}, {other}"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, tab))).Status);
    }

    [Fact]
    public async Task AClosedOrEvictedTabIsGoneOverHttp()
    {
        var server = await StartTestServerAsync(Store, o => o.Tabs.MaxTabsPerSession = 2, MapTabRoutes);
        using var browser = new CookieJarClient(server.Address);
        var first = await IssueAsync(browser);
        await AddAsync(browser, "/tab-cart/apple", (Header, first));
        var second = await IssueAsync(browser);

        Assert.Equal(HttpStatusCode.NoContent, (await browser.CallAsync(HttpMethod.Post, "/tabs/close", (Header, second))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Post, "/tabs/close", (Header, second))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, second))).Status);
        Assert.Equal((HttpStatusCode.OK, "apple"), await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, first)));

        Clock.Advance(TimeSpan.FromMinutes(2));
        await IssueAsync(browser);
        Clock.Advance(TimeSpan.FromMinutes(2));
        await IssueAsync(browser); // a third tab with a bound of two: the first, least recently used, goes

        Assert.Equal(HttpStatusCode.NotFound, (await browser.CallAsync(HttpMethod.Get, "/tab-cart", (Header, first))).Status);
    }

    [Theory]
    [InlineData(0, TabIdSource.Header, null, "MaxTabsPerSession must be between 1 and 1000")]
    [InlineData(1001, TabIdSource.Header, null, "MaxTabsPerSession must be between 1 and 1000")]
    [InlineData(10, (TabIdSource)7, null, "Source must be Header, Query or RouteValue")]
    [InlineData(10, TabIdSource.Header, "X Tab", "must be a valid header name")]
    [InlineData(10, TabIdSource.Query, "", "Name must be 1 to 100 characters")]
    public void BadTabOptionsFailValidation(int max, TabIdSource source, string? name, string message)
    {
        var options = new TesseraOptions();
        options.Keys.Add(Key);
        options.Tabs.MaxTabsPerSession = max;
        options.Tabs.Source = source;
        options.Tabs.Name = name;

        var result = new TesseraOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(message, result.FailureMessage, StringComparison.Ordinal);
        options.Tabs.MaxTabsPerSession = 10;
        options.Tabs.Source = TabIdSource.Query;
        options.Tabs.Name = "tab id";
        Assert.True(new TesseraOptionsValidator().Validate(null, options).Succeeded); // a query name may hold a space
    }

    private static async Task<string> IssueAsync(CookieJarClient browser)
    {
        var (status, body) = await browser.CallAsync(HttpMethod.Post, "/tabs");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Matches("^[A-Za-z0-9_-]{22}$", body);
        return body;
    }

    private static async Task AddAsync(CookieJarClient browser, string path, params (string Name, string Value)[] headers)
    {
        var (status, body) = await browser.CallAsync(HttpMethod.Post, path, headers);
        Assert.True(status == HttpStatusCode.OK, $"{path}: {status} {body}");
    }

    private static void MapTabRoutes(WebApplication app)
    {
        app.MapPost("/tabs", (HttpSession session) => session.IssueTab());
        app.MapPost("/tabs/close", (HttpContext context, HttpSession session) =>
            session.CloseTab(context.GetTesseraTabId()) ? Results.NoContent() : Results.NotFound());
        app.MapGet("/tab-cart", (Func<HttpContext, Task<IResult>>)ReadCartAsync);
        app.MapPost("/tab-cart/{item}", AddToCartAsync);
        app.MapGet("/terminals/{terminal}/cart", (Func<HttpContext, Task<IResult>>)ReadCartAsync);
        app.MapPost("/terminals/{terminal}/cart/{item}", AddToCartAsync);
    }

    private static async Task<IResult> ReadCartAsync(HttpContext context) =>
        await context.GetTesseraTabAsync() is { } tab
            ? Results.Text(string.Join(',', tab.Get<List<string>>("cart") ?? []))
            : Results.NotFound();

    private static async Task<IResult> AddToCartAsync(HttpContext context, string item)
    {
        if (await context.GetTesseraTabAsync() is not { } tab)
        {
            return Results.NotFound();
        }
        var cart = tab.Get<List<string>>("cart") ?? [];
        cart.Add(item);
        tab.Set("cart", cart);
        return Results.Text(string.Join(',', cart));
    }
}
