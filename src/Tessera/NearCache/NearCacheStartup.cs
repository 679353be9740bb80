using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tessera.NearCache;

/// <summary>
/// Subscribes the near cache to its invalidation channel when the host starts, so the first requests are already
/// served from memory. Waits at most <see cref="NearCacheOptions.StartTimeout"/>; if the channel is not up by then the
/// host starts anyway and the cache stays bypassed until it connects.
/// </summary>
internal sealed class NearCacheStartup(ISessionStore store, ILogger<NearCacheStartup>? logger = null) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (store is not NearCacheSessionStore cache)
        {
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(cache.StartTimeout);
        try
        {
            await cache.StartAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.NearCacheStartFailed((ILogger?)logger ?? NullLogger.Instance, e);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
