using Tessera.AspNetCore;

namespace Tessera.Demo;

/// <summary>
/// The point-of-sale routes behind <c>/pos.html</c>: one browser, one session, a cart per tab (the Astro seed
/// discussion's terminal with several sales open at once). The page keeps its tab id in <c>sessionStorage</c> and sends it
/// in the <c>X-Tessera-Tab</c> header; an id this session did not issue is a 404, and the page asks for a new tab.
/// </summary>
internal static class DemoTabEndpoints
{
    private static readonly SessionKey<List<string>> Cart = new("cart");

    public static void Map(WebApplication app)
    {
        // A new tab for the page that asks: at most Tessera:Tabs:MaxTabsPerSession (10) per session, the least recently
        // used one closing when an eleventh opens.
        app.MapPost("/pos/tabs", (HttpSession session) => Results.Ok(new { tab = session.IssueTab() })).RequireRateLimiting(DemoRateLimits.SessionCreation);

        app.MapGet("/pos/cart", async (HttpContext context) =>
            await context.GetTesseraTabAsync() is { } tab ? Results.Ok(new { items = tab.Get(Cart) ?? [] }) : UnknownTab());

        app.MapPost("/pos/cart", async (HttpContext context) =>
        {
            if (await context.GetTesseraTabAsync() is not { } tab)
            {
                return UnknownTab();
            }
            var (body, problem) = await DemoEndpoints.ReadBodyAsync<ItemRequest>(context.Request);
            if (problem is not null)
            {
                return problem;
            }
            var item = body!.Item?.Trim();
            if (string.IsNullOrEmpty(item) || item.Length > DemoEndpoints.MaxItemLength)
            {
                return DemoEndpoints.BadRequest($"\"item\" must be 1 to {DemoEndpoints.MaxItemLength} characters.");
            }
            var items = tab.Get(Cart) ?? [];
            if (items.Count >= DemoEndpoints.MaxCartItems)
            {
                return DemoEndpoints.BadRequest($"A sale holds at most {DemoEndpoints.MaxCartItems} items.");
            }
            items.Add(item);
            tab.Set(Cart, items);
            return Results.Ok(new { items });
        }).RequireRateLimiting(DemoRateLimits.SessionCreation);

        // Ends the tab's sale: its cart empties, the tab stays.
        app.MapPost("/pos/checkout", async (HttpContext context) =>
        {
            if (await context.GetTesseraTabAsync() is not { } tab)
            {
                return UnknownTab();
            }
            var sold = tab.Get(Cart) ?? [];
            tab.Remove(Cart);
            return Results.Ok(new { sold });
        });
    }

    private static IResult UnknownTab() =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown tab.", detail: "This session did not issue that tab id, or closed it: ask POST /pos/tabs for a new one.");

    private sealed record ItemRequest(string? Item);
}
