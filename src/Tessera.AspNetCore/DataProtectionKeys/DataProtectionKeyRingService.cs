using Microsoft.Extensions.Hosting;

namespace Tessera.AspNetCore.DataProtectionKeys;

/// <summary>
/// Loads (or generates) the keys before the server takes requests, so a key ring this instance cannot read stops the
/// start-up with a clear error, then keeps them current in the background.
/// </summary>
internal sealed class DataProtectionKeyRingService(DataProtectionKeyRing ring) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ring.RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loop = ring.RunAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _stopping.Dispose();
}
