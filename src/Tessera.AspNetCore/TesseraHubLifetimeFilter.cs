using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tessera.AspNetCore;

/// <summary>
/// Ends every SignalR connection whose Tessera session ends (sign-out, any revocation, expiry) on every instance: on
/// connect it watches the connection's session with <see cref="SessionEndWatcher"/>; when the session ends it sends the
/// client <see cref="TesseraConnectionLifetime.SessionEndedMethod"/> with the reason code and aborts the connection.
/// A connection without a stored session (anonymous, no credential) is not watched.
/// </summary>
internal sealed partial class TesseraHubLifetimeFilter(SessionEndWatcher watcher, ILogger<TesseraHubLifetimeFilter>? logger = null) : IHubFilter
{
    private static readonly object WatchKey = new();
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public async Task OnConnectedAsync(HubLifetimeContext context, Func<HubLifetimeContext, Task> next)
    {
        var connection = context.Context;
        // The hub instance is disposed after its connect event; the caller's proxy outlives it.
        var caller = context.Hub.Clients.Caller;
        var found = await TesseraConnectionLifetime.FindSessionAsync(connection.GetHttpContext(), connection.ConnectionAborted).ConfigureAwait(false);
        if (found.SessionId is { } sessionId)
        {
            // Watched before the hub's own connect event runs, so whatever that event tells the client happens under watch.
            var watch = watcher.Watch(sessionId, ended => _ = CloseAsync(connection, caller, ended), found.ExpiresAt);
            connection.Items[WatchKey] = watch;
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch
            {
                watch.Dispose();
                throw;
            }
            return;
        }
        await next(context).ConfigureAwait(false);
        if (found.Ended)
        {
            // The credential's session ended between the negotiate and now (or long ago): there is nothing to watch.
            _ = CloseAsync(connection, caller, new SessionEnded("", Reason: null, Expired: false));
        }
    }

    public async Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        if (context.Context.Items.TryGetValue(WatchKey, out var watch))
        {
            (watch as IDisposable)?.Dispose();
        }
        await next(context, exception).ConfigureAwait(false);
    }

    private async Task CloseAsync(HubCallerContext connection, ISingleClientProxy caller, SessionEnded ended)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TesseraConnectionLifetime.SendTimeout);
            await caller.SendAsync(TesseraConnectionLifetime.SessionEndedMethod, ended.Code, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client may already be gone; it is aborted all the same.
            Log.SessionEndedNoticeFailed(_logger, Tessera.Log.ErrorType(e));
        }
        finally
        {
            Log.ConnectionClosedForEndedSession(_logger, ended.Code);
            connection.Abort();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2801, LogLevel.Information, "A SignalR connection was closed because its session ended ({Reason}).")]
        public static partial void ConnectionClosedForEndedSession(ILogger logger, string reason);

        [LoggerMessage(2802, LogLevel.Debug, "The session-ended notice could not be sent to a closing connection ({ErrorType}).")]
        public static partial void SessionEndedNoticeFailed(ILogger logger, string errorType);
    }
}
