using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.RateLimiting;
using Tessera.Demo.Pages;

namespace Tessera.Demo;

/// <summary>
/// The demo's rate limits: ASP.NET Core's rate limiter, one named policy per use, each partitioned per client. A route
/// opts in with <c>.RequireRateLimiting(name)</c>; <c>UseRateLimiter()</c> runs right after routing, so a refused
/// request never reaches the session store.
/// </summary>
internal static class DemoRateLimits
{
    /// <summary>
    /// <c>POST /admin/sign-in</c>: at most <see cref="OperatorSignInAttempts"/> attempts per client address in
    /// <see cref="OperatorSignInWindow"/>, right or wrong, so the operator password cannot be guessed at speed and its
    /// deliberately slow hash cannot be used to burn the server's CPU.
    /// </summary>
    public const string OperatorSignIn = "operator-sign-in";

    /// <summary>Operator sign-in attempts a client address may make per window: 5.</summary>
    public const int OperatorSignInAttempts = 5;

    /// <summary>The operator sign-in window: one minute, fixed (the count starts again when it ends).</summary>
    public static readonly TimeSpan OperatorSignInWindow = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The routes that can create a session (<c>POST /login</c>, <c>/cart</c>, <c>/flash</c>, <c>/counter/{name}</c>,
    /// <c>/pos/tabs</c>, <c>/pos/cart</c>, <c>/api/login</c>): <see cref="DemoSettings.SessionRateLimit"/> requests a
    /// minute per client address. Every store bounds anonymous sessions and never signs a user out to make room for them;
    /// this limit keeps one client from crowding out everybody else's anonymous sessions, or signing in without end.
    /// </summary>
    public const string SessionCreation = "session-creation";

    /// <summary>The default of <see cref="DemoSettings.SessionRateLimit"/>: 600 requests a minute per client address.</summary>
    public const int DefaultSessionRateLimit = 600;

    /// <summary>Registers the rate limiter with the demo's policies; refusals are 429 with <c>Retry-After</c>.</summary>
    public static IServiceCollection AddDemoRateLimits(this IServiceCollection services, DemoSettings settings) => services.AddRateLimiter(options =>
    {
        // A token bucket: a burst of the whole minute's budget, refilled every second; no queue, so a flood is refused
        // at once instead of held in memory.
        var limit = settings.SessionRateLimit;
        options.AddPolicy(SessionCreation, context => limit == 0
            ? RateLimitPartition.GetNoLimiter("off")
            : RateLimitPartition.GetTokenBucketLimiter(ClientPartition(context), _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = limit,
                TokensPerPeriod = Math.Max(1, (limit + 59) / 60),
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
            }));
        options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        options.OnRejected = WriteRejectionAsync;
        options.AddPolicy(OperatorSignIn, context => RateLimitPartition.GetFixedWindowLimiter(ClientPartition(context), _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = OperatorSignInAttempts,
            Window = OperatorSignInWindow,
            QueueLimit = 0,
        }));
    });

    /// <summary>
    /// The client a request counts against: its IPv4 address, or the /64 network of an IPv6 address (one host usually
    /// holds a whole /64, so counting single IPv6 addresses would give it billions of budgets). The address is the
    /// connection's, or the one forwarded-header processing put there when the application runs behind a proxy.
    /// </summary>
    public static string ClientPartition(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static async ValueTask WriteRejectionAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? (int)Math.Ceiling(wait.TotalSeconds) : (int?)null;
        if (retryAfter is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
        var detail = retryAfter is { } s ? $"Too many attempts from your address: try again in {s} seconds." : "Too many attempts from your address: try again later.";
        // A browser's form post gets a page; everything else a problem document.
        IResult result = context.Request.HasFormContentType
            ? new RazorComponentResult<TooManyAttemptsPage>(new { Detail = detail }) { StatusCode = StatusCodes.Status429TooManyRequests }
            : Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests.", detail: detail);
        await result.ExecuteAsync(context);
    }
}
