using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Tessera.AspNetCore;

/// <summary>Captures a request's session metadata under the configured policy (<see cref="TesseraOptions.Metadata"/>).</summary>
public static class SessionMetadataCapture
{
    /// <summary>
    /// The metadata a session created by this request should record: its User-Agent and remote IP address, as
    /// <see cref="TesseraOptions.Metadata"/> allows. Cookie sessions do this by themselves; pass the result to
    /// <c>SessionManager.Tokens.CreateAsync</c> so token sessions follow the same policy
    /// (<c>manager.Tokens.CreateAsync(user, metadata: context.CaptureSessionMetadata())</c>).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="label">A label to record (a device name the user chose, say), or <see langword="null"/>.</param>
    /// <returns>The metadata.</returns>
    /// <exception cref="InvalidOperationException">Tessera's services are not registered (<c>AddTessera()</c> is missing).</exception>
    public static SessionMetadata CaptureSessionMetadata(this HttpContext context, string? label = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var manager = context.RequestServices.GetService<SessionManager>()
            ?? throw new InvalidOperationException("Tessera is not registered: call services.AddTessera() first.");
        return Capture(context, manager.Options.Metadata, label);
    }

    internal static SessionMetadata Capture(HttpContext context, SessionMetadataOptions policy, string? label) =>
        policy.Capture(context.Request.Headers.UserAgent.ToString(), context.Connection.RemoteIpAddress, label);
}
