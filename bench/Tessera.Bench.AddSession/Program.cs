using System.Text.Json;

// ASP.NET Core's built-in sessions with the routes the HTTP benchmark drives on the Tessera demo: /healthz, POST /login,
// GET /me and POST /counter/{name}. Only what the benchmark needs; it is a baseline, not an example to follow (the
// session id is the credential, it is not regenerated at sign-in, and it is readable by anyone holding the cache).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ApplicationName = typeof(LoginRequest).Assembly.GetName().Name,
});
builder.Services.AddDistributedMemoryCache();
builder.Services.AddSession(options => options.Cookie.HttpOnly = true);

var app = builder.Build();
app.UseSession();

app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));

app.MapPost("/login", async (HttpContext context) =>
{
    LoginRequest? body;
    try
    {
        body = await context.Request.ReadFromJsonAsync<LoginRequest>(context.RequestAborted);
    }
    catch (JsonException)
    {
        body = null;
    }
    if (string.IsNullOrWhiteSpace(body?.User))
    {
        return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "\"user\" is required.");
    }
    await context.Session.LoadAsync(context.RequestAborted);
    context.Session.SetString("user", body.User);
    return Results.Ok(new { user = body.User, sessionId = context.Session.Id });
});

app.MapGet("/me", async (HttpContext context) =>
{
    // LoadAsync, as the AddSession documentation recommends, so the read never blocks on the cache.
    await context.Session.LoadAsync(context.RequestAborted);
    return context.Session.GetString("user") is { } user
        ? Results.Ok(new { user })
        : Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not signed in.");
});

app.MapPost("/counter/{name}", async (string name, HttpContext context) =>
{
    await context.Session.LoadAsync(context.RequestAborted);
    var key = "counter:" + name;
    var value = (context.Session.GetInt32(key) ?? 0) + 1;
    context.Session.SetInt32(key, value);
    return Results.Ok(new { name, value });
});

await app.RunAsync();

internal sealed record LoginRequest(string? User);
