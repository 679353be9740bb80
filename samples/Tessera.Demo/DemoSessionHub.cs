using Microsoft.AspNetCore.SignalR;
using Tessera.AspNetCore;

namespace Tessera.Demo;

/// <summary>
/// The demo's hub at <see cref="Path"/>: tells a connection who is signed in the moment it connects. The server closes the
/// connection when its session ends anywhere (<c>AddTesseraConnectionLifetime()</c>): the client first receives
/// <see cref="TesseraConnectionLifetime.SessionEndedMethod"/> with the reason, which the live page shows.
/// </summary>
internal sealed class DemoSessionHub : Hub
{
    public const string Path = "/hubs/session";

    /// <summary>The client method that carries the signed-in user's name (<see langword="null"/> when anonymous).</summary>
    public const string UserMethod = "user";

    public override Task OnConnectedAsync() =>
        Clients.Caller.SendAsync(UserMethod, Context.User?.Identity?.IsAuthenticated == true ? Context.User.Identity.Name : null, Context.ConnectionAborted);

    /// <summary>Maps the hub; a connection opened with an access token also closes when the token expires.</summary>
    public static void Map(WebApplication app) =>
        app.MapHub<DemoSessionHub>(Path, options => options.CloseOnAuthenticationExpiration = true);
}
