using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;

namespace Tessera.AspNetCore;

/// <summary>
/// The session of one HTTP request. Declare it as a minimal-API parameter and it arrives loaded
/// (<c>app.MapGet("/cart", (HttpSession session) =&gt; session.Get&lt;List&lt;string&gt;&gt;("cart"))</c>), with no
/// service provider involved; elsewhere use <see cref="HttpContextSessionExtensions.GetTesseraSession"/>. The same type
/// serves cookie and bearer-token requests (see <see cref="TesseraSession.CredentialKind"/>): a handler reads and writes
/// the same keys either way, and the changes are committed per key either way.
/// </summary>
/// <remarks>Binding throws <see cref="InvalidOperationException"/> when sessions are disabled for the endpoint or <c>UseTessera()</c> is missing.</remarks>
public sealed class HttpSession : TesseraSession, IBindableFromHttpContext<HttpSession>, IEndpointParameterMetadataProvider
{
    private readonly HttpContext _context;
    private readonly SessionManager _manager;

    internal HttpSession(SessionManager manager, string? presentedCredential, SessionCredentialKind credentialKind, HttpContext context)
        : base(manager, presentedCredential, credentialKind, metadata: null)
    {
        _context = context;
        _manager = manager;
    }

    /// <summary>
    /// Binds the request's session for a minimal-API parameter, loading it first (one store read at most).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="parameter">The parameter being bound.</param>
    /// <returns>The loaded session.</returns>
    /// <exception cref="InvalidOperationException">Sessions are disabled for this endpoint or not configured.</exception>
    public static ValueTask<HttpSession?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        ArgumentNullException.ThrowIfNull(context);
        var session = context.GetTesseraSession();
        // Authentication has usually loaded it already: then binding completes at once.
        var loading = session.LoadAsync(context.RequestAborted);
        if (loading.IsCompletedSuccessfully)
        {
            loading.GetAwaiter().GetResult();
            return new(session);
        }
        return LoadedAsync(loading, session);
    }

    private static async ValueTask<HttpSession?> LoadedAsync(ValueTask loading, HttpSession session)
    {
        await loading.ConfigureAwait(false);
        return session;
    }

    /// <summary>Declares nothing to OpenAPI: the session is not part of the request's described shape.</summary>
    /// <param name="parameter">The parameter.</param>
    /// <param name="builder">The endpoint builder.</param>
    public static void PopulateMetadata(ParameterInfo parameter, Microsoft.AspNetCore.Builder.EndpointBuilder builder)
    {
    }

    /// <summary>
    /// Records the request's User-Agent (at most 512 characters) and remote IP address, as
    /// <see cref="TesseraOptions.Metadata"/> allows (either can be off; the IP can be truncated).
    /// </summary>
    /// <returns>The metadata.</returns>
    protected override SessionMetadata CaptureMetadata() => SessionMetadataCapture.Capture(_context, _manager.Options.Metadata, label: null);
}
