using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore;

/// <summary>Every default of Tessera's SignalR support in one place.</summary>
public static class TesseraHubDefaults
{
    /// <summary>
    /// How long a connection ticket handed out on a hub's negotiate request stays redeemable: 30 seconds, enough for a
    /// client to open its WebSocket right after negotiating, short enough that a ticket read from a log has expired.
    /// </summary>
    public static readonly TimeSpan ConnectionTicketLifetime = TimeSpan.FromSeconds(30);

    /// <summary>Whether an access token (not a ticket) is accepted in a hub request's query string: no.</summary>
    public const bool AllowAccessTokenInQueryString = false;
}

/// <summary>
/// Tessera sessions in SignalR hubs: <c>services.AddSignalR().AddTesseraSessions(options =&gt; ...)</c>. Validated at
/// start-up. See docs/realtime.md.
/// </summary>
public sealed class TesseraHubOptions
{
    /// <summary>
    /// How long a connection ticket stays redeemable after the negotiate request that issued it. Default
    /// <see cref="TesseraHubDefaults.ConnectionTicketLifetime"/> (30 seconds); at least 1 second, at most 10 minutes. A
    /// ticket is single-use whatever its lifetime.
    /// </summary>
    public TimeSpan ConnectionTicketLifetime { get; set; } = TesseraHubDefaults.ConnectionTicketLifetime;

    /// <summary>
    /// Whether a hub request may carry a real access token in its query string (<c>access_token=&lt;JWT&gt;</c>), as
    /// SignalR's browser client sends it when the app's <c>accessTokenFactory</c> returns the token for a WebSocket or
    /// Server-Sent Events request. Default <see langword="false"/>
    /// (<see cref="TesseraHubDefaults.AllowAccessTokenInQueryString"/>): such a request is refused with 401, because ASP.NET
    /// Core's "Request starting" log line (category <c>Microsoft.AspNetCore.Hosting.Diagnostics</c>) records the query
    /// string before any middleware runs, and proxies log it too. Clients get a single-use connection ticket from the
    /// negotiate request instead. If you turn this on, also set
    /// <c>Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics</c> to <c>Warning</c> (docs/realtime.md).
    /// </summary>
    public bool AllowAccessTokenInQueryString { get; set; } = TesseraHubDefaults.AllowAccessTokenInQueryString;
}

/// <summary>Validates <see cref="TesseraHubOptions"/> at start-up.</summary>
internal sealed class TesseraHubOptionsValidator : IValidateOptions<TesseraHubOptions>
{
    public ValidateOptionsResult Validate(string? name, TesseraHubOptions options) =>
        options.ConnectionTicketLifetime < TimeSpan.FromSeconds(1) || options.ConnectionTicketLifetime > TimeSpan.FromMinutes(10)
            ? ValidateOptionsResult.Fail($"TesseraHubOptions.ConnectionTicketLifetime must be between 1 second and 10 minutes (it is {options.ConnectionTicketLifetime}).")
            : ValidateOptionsResult.Success;
}
