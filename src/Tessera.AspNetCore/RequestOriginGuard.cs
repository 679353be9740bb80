using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore;

/// <summary>
/// Refuses cross-origin unsafe requests that carry the session cookie, before their session is opened (see
/// <see cref="TesseraRequestOriginOptions"/>): the rules of Go's <c>net/http.CrossOriginProtection</c> and OWASP's
/// Fetch Metadata guidance, limited to cookie sessions, since a bearer token is never attached by the browser on its own.
/// </summary>
/// <remarks>
/// The headers are judged first and exemptions looked up only for a request that would be refused, so the usual
/// request (a GET, or a same-origin POST) costs one or two header reads.
/// </remarks>
internal sealed partial class RequestOriginGuard
{
    private const string SecFetchSite = "Sec-Fetch-Site";

    private static readonly ConcurrentDictionary<Type, Func<object, Task<bool>>?> CallbackProbes = new();

    private readonly bool _enabled;
    private readonly bool _allowSameSite;
    private readonly HashSet<string> _trustedOrigins;
    private readonly PathString[] _exemptPaths;
    private readonly RequestSessionOpener _sessions;
    private readonly TesseraMetrics _metrics;
    private readonly ILogger _logger;

    public RequestOriginGuard(TesseraRequestOriginOptions options, RequestSessionOpener sessions, TesseraMetrics metrics, ILogger logger)
    {
        _enabled = options.Enabled;
        _allowSameSite = options.AllowSameSite;
        // The validator has refused anything that does not normalize, so every entry here is an origin.
        _trustedOrigins = new HashSet<string>(options.TrustedOrigins.Select(o => RequestOrigins.Normalize(o, out _)!), StringComparer.OrdinalIgnoreCase);
        _exemptPaths = [.. options.ExemptPaths.Select(p => new PathString(p))];
        _sessions = sessions;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Why a request is refused.</summary>
    internal enum Refusal
    {
        /// <summary>Not refused.</summary>
        None,

        /// <summary><c>Sec-Fetch-Site: cross-site</c>, or a value the guard does not know.</summary>
        CrossSite,

        /// <summary><c>Sec-Fetch-Site: same-site</c> while same-site requests are not allowed.</summary>
        SameSite,

        /// <summary>No <c>Sec-Fetch-Site</c>, and an <c>Origin</c> that is neither the request's host nor trusted.</summary>
        OriginMismatch,
    }

    /// <summary>
    /// Answers a refused request with 403 and returns <see langword="true"/>; returns <see langword="false"/> for every
    /// request that may go on. Nothing about the session is read beyond the presence of its credential.
    /// </summary>
    public ValueTask<bool> RefuseAsync(HttpContext context)
    {
        if (!_enabled || (IsSafe(context.Request.Method) && !IsUpgrade(context)))
        {
            return ValueTask.FromResult(false);
        }
        var refusal = Judge(context.Request);
        return refusal == Refusal.None ? ValueTask.FromResult(false) : RefuseUnlessExemptAsync(context, refusal);
    }

    /// <summary>What the browser's headers say about a request with an unsafe method (exemptions aside).</summary>
    internal Refusal Judge(HttpRequest request)
    {
        var origin = Single(request.Headers.Origin);
        var fetchSite = request.Headers[SecFetchSite];
        if (fetchSite.Count > 0)
        {
            var site = Single(fetchSite);
            if (string.Equals(site, "same-origin", StringComparison.OrdinalIgnoreCase) || string.Equals(site, "none", StringComparison.OrdinalIgnoreCase))
            {
                return Refusal.None;
            }
            if (IsTrusted(origin))
            {
                return Refusal.None;
            }
            if (string.Equals(site, "same-site", StringComparison.OrdinalIgnoreCase))
            {
                return _allowSameSite ? Refusal.None : Refusal.SameSite;
            }
            return Refusal.CrossSite;
        }
        if (request.Headers.Origin.Count == 0)
        {
            // Neither header: a client that is not a browser, or a browser too old to send Origin on a same-origin post.
            return Refusal.None;
        }
        return origin is not null && (RequestOrigins.MatchesHost(origin, request.Host) || IsTrusted(origin))
            ? Refusal.None
            : Refusal.OriginMismatch;
    }

    private async ValueTask<bool> RefuseUnlessExemptAsync(HttpContext context, Refusal refusal)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IDisableTesseraOriginCheckMetadata>() is not null
            || !_sessions.PresentsCookieCredential(context)
            || IsExemptPath(context.Request.Path)
            || await IsRemoteAuthenticationCallbackAsync(context).ConfigureAwait(false))
        {
            return false;
        }
        _metrics.CrossOriginRefused(ReasonTag(refusal));
        Log.CrossOriginRefused(_logger, context.Request.Method, Printable(context.Request.Path.Value ?? "/"), ReasonTag(refusal), Printable(context.Request.Headers[SecFetchSite]), Printable(context.Request.Headers.Origin));
        var response = context.Response;
        response.Headers[HeaderNames.CacheControl] = "no-store";
        await TesseraProblem.WriteAsync(context, StatusCodes.Status403Forbidden, "Cross-origin request refused.", "cross_origin_request").ConfigureAwait(false);
        return true;
    }

    private bool IsTrusted(string? origin) => origin is not null && _trustedOrigins.Count > 0 && _trustedOrigins.Contains(origin);

    private bool IsExemptPath(PathString path)
    {
        foreach (var exempt in _exemptPaths)
        {
            if (path.StartsWithSegments(exempt, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A WebSocket handshake (a GET that can skip any unsafe request before it, such as SignalR's negotiate POST), or a
    /// Server-Sent Events GET to a SignalR hub: both open a channel that acts for the session, so a cross-site page must
    /// not open one with the user's cookie (cross-site WebSocket hijacking). Read from the headers, since the WebSocket
    /// middleware that would say so runs later, inside the hub's or the app's endpoint.
    /// </summary>
    private static bool IsUpgrade(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method))
        {
            return false;
        }
        // A WebSocket opened with GET is HTTP/1.1's upgrade, which always names websocket in Upgrade (what
        // WebSockets.IsWebSocketRequest checks, at the price of a feature lookup and an object per request); HTTP/2's
        // WebSockets use CONNECT, which is judged as unsafe anyway.
        foreach (var upgrade in request.Headers[HeaderNames.Upgrade])
        {
            if (upgrade is not null && upgrade.Contains("websocket", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return HubConnectionTickets.IsHubRequest(context) && request.Headers.Accept.Any(a => a is not null && a.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase));
    }

    private static bool IsSafe(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method);

    private static string? Single(StringValues values) => values.Count == 1 ? values[0] : null;

    private static string ReasonTag(Refusal refusal) => refusal switch
    {
        Refusal.SameSite => "same_site",
        Refusal.OriginMismatch => "origin_mismatch",
        _ => "cross_site",
    };

    // The headers and the path are the client's to choose: a log line gets at most one short value of printable ASCII.
    private static string Printable(StringValues values) =>
        values.Count == 0 ? "(none)" : Printable(values.Count == 1 ? values[0] ?? string.Empty : "(several)");

    internal static string Printable(string value)
    {
        var text = value.Length > 100 ? value[..100] + "..." : value;
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = source[i] is >= ' ' and < (char)127 ? source[i] : '?';
            }
        });
    }

    /// <summary>
    /// Whether a remote authentication handler (OpenID Connect, OAuth, WS-Federation, ...) of the application will
    /// handle this request as its callback: an identity provider's <c>form_post</c> comes from another origin by design,
    /// and the handler protects it with its own state and correlation cookie. Asked only of a request about to be
    /// refused; the handler instance is the one the authentication middleware uses for the request.
    /// </summary>
    private static async ValueTask<bool> IsRemoteAuthenticationCallbackAsync(HttpContext context)
    {
        var schemes = context.RequestServices?.GetService<IAuthenticationSchemeProvider>();
        var handlers = context.RequestServices?.GetService<IAuthenticationHandlerProvider>();
        if (schemes is null || handlers is null)
        {
            return false;
        }
        foreach (var scheme in await schemes.GetRequestHandlerSchemesAsync().ConfigureAwait(false))
        {
            var handler = await handlers.GetHandlerAsync(context, scheme.Name).ConfigureAwait(false);
            if (handler is not null && CallbackProbes.GetOrAdd(handler.GetType(), CallbackProbe) is { } probe && await probe(handler).ConfigureAwait(false))
            {
                return true;
            }
        }
        return false;
    }

    // RemoteAuthenticationHandler<TOptions> has no non-generic face: its public ShouldHandleRequestAsync() (the callback
    // path, plus the sign-out paths OpenID Connect adds by overriding it) is reached through the closed base type.
    private static Func<object, Task<bool>>? CallbackProbe(Type handlerType)
    {
        for (var type = handlerType; type is not null; type = type.BaseType)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(RemoteAuthenticationHandler<>))
            {
                var method = type.GetMethod(nameof(RemoteAuthenticationHandler<RemoteAuthenticationOptions>.ShouldHandleRequestAsync), BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes);
                return method is null ? null : handler => (Task<bool>)method.Invoke(handler, null)!;
            }
        }
        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(2401, LogLevel.Warning, "A cross-origin {Method} {Path} carrying the session cookie was refused with 403 ({Reason}; Sec-Fetch-Site: {FetchSite}; Origin: {Origin}); its session was not opened.")]
        public static partial void CrossOriginRefused(ILogger logger, string method, string path, string reason, string fetchSite, string origin);
    }
}
