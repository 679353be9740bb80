using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tessera.AspNetCore.Identity;

namespace Tessera.AspNetCore;

/// <summary>
/// Opens the one session view of a request, for the middleware and the authentication handler alike: whichever runs
/// first opens it (lazily: no store call), the other finds it in the request's features, so a request loads its
/// session at most once whatever the order of <c>UseTessera()</c> and <c>UseAuthentication()</c>.
/// </summary>
internal sealed class RequestSessionOpener
{
    private readonly SessionManager _manager;
    private readonly ISessionTransport[] _transports;
    private readonly ISessionTransport _fallback;
    private SecurityStampCheck? _stampCheck;
    private volatile bool _stampCheckLookedUp;

    public RequestSessionOpener(SessionManager manager, IEnumerable<ISessionTransport> transports)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(transports);
        _manager = manager;
        // A bearer token is the explicit choice of the client (a browser attaches cookies to every request), so token
        // transports are asked first; the cookie transport serves every request without a credential.
        _transports = [.. transports.OrderBy(t => t.CredentialKind == SessionCredentialKind.AccessToken ? 0 : 1)];
        if (_transports.Length == 0)
        {
            throw new InvalidOperationException("No session transport is registered: call services.AddTessera().");
        }
        _fallback = _transports.FirstOrDefault(t => t.CredentialKind == SessionCredentialKind.Cookie) ?? _transports[^1];
        TokensEnabled = _transports.Any(t => t.CredentialKind == SessionCredentialKind.AccessToken);
    }

    /// <summary>Whether a bearer-token transport is registered.</summary>
    public bool TokensEnabled { get; }

    /// <summary>The request's session feature if the middleware or the authentication handler opened it, else <see langword="null"/>.</summary>
    public static TesseraSessionFeature? Opened(HttpContext context) => context.Features[typeof(ITesseraSessionFeature)] as TesseraSessionFeature;

    /// <summary>
    /// Identity's security-stamp check, when <c>AddTesseraIdentity</c> registered it (a singleton), else
    /// <see langword="null"/>: looked up in the first request's services, then kept, so authenticating costs no service
    /// lookup per request.
    /// </summary>
    public SecurityStampCheck? StampCheck(IServiceProvider? services)
    {
        if (!_stampCheckLookedUp && services is not null)
        {
            _stampCheck = services.GetService(typeof(SecurityStampCheck)) as SecurityStampCheck;
            _stampCheckLookedUp = true;
        }
        return _stampCheck;
    }

    public static bool IsDisabled(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<IDisableTesseraSessionMetadata>() is not null;

    /// <summary>
    /// The request's session feature, opened now if nobody opened it yet. Features are read and set through the
    /// collection's indexer: the generic <c>Get&lt;T&gt;</c> and <c>Set&lt;T&gt;</c> are generic virtual calls, resolved by
    /// the runtime on every call, and this runs several times per request.
    /// </summary>
    public TesseraSessionFeature GetOrOpen(HttpContext context)
    {
        if (Opened(context) is { } existing)
        {
            return existing;
        }
        var (transport, credential) = FindCredential(context);
        var session = new HttpSession(_manager, credential, transport.CredentialKind, context);
        var feature = new TesseraSessionFeature(context, session, transport);
        context.Features[typeof(ITesseraSessionFeature)] = feature;
        context.Features[typeof(ISessionFeature)] = feature;
        return feature;
    }

    /// <summary>
    /// A new, unloaded view of the session the request's credential points at, apart from the request's own (a hub
    /// invocation on the connection's request loads and commits its own view each time).
    /// </summary>
    public HttpSession OpenView(HttpContext context)
    {
        var (transport, credential) = FindCredential(context);
        return new HttpSession(_manager, credential, transport.CredentialKind, context);
    }

    /// <summary>
    /// Whether the request presents a credential that a browser attaches on its own (a cookie), as opposed to a bearer
    /// token, which only the client's own code sends. Reads the credential text only: no verification, no store call.
    /// </summary>
    public bool PresentsCookieCredential(HttpContext context)
    {
        if (Opened(context) is { } existing)
        {
            return existing.Session.CredentialKind == SessionCredentialKind.Cookie && existing.Session.HasPresentedCredential;
        }
        var (transport, credential) = FindCredential(context);
        return transport.CredentialKind == SessionCredentialKind.Cookie && credential is not null;
    }

    // The first transport that finds a credential carries the request (token transports are asked first); the cookie
    // transport serves a request that presents none.
    private (ISessionTransport Transport, string? Credential) FindCredential(HttpContext context)
    {
        foreach (var candidate in _transports)
        {
            if (candidate.ReadCredential(context) is { } credential)
            {
                return (candidate, credential);
            }
        }
        return (_fallback, null);
    }
}
