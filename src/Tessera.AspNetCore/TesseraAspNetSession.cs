using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

/// <summary>
/// Serves <see cref="HttpContext.Session"/> (<see cref="ISession"/>) from Tessera, so code written for
/// <c>AddSession()</c> keeps working. Byte values are stored as JSON base64 strings, so
/// <c>session.Get&lt;byte[]&gt;(key)</c> reads what <c>ISession.Set</c> wrote.
/// </summary>
internal sealed class TesseraAspNetSession(HttpSession session, ITesseraSessionFeature feature) : ISession
{
    public bool IsAvailable
    {
        get
        {
            _ = session.IsNew; // loads on first use, as ASP.NET Core's own session does
            return true;
        }
    }

    public string Id => session.Id;

    public IEnumerable<string> Keys => session.Keys;

    public void Clear() => session.Clear();

    public Task CommitAsync(CancellationToken cancellationToken = default) => feature.CommitAsync(cancellationToken);

    public Task LoadAsync(CancellationToken cancellationToken = default) => session.LoadAsync(cancellationToken).AsTask();

    public void Remove(string key) => session.Remove(key);

    public void Set(string key, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        session.Set(key, value);
    }

    public bool TryGetValue(string key, [NotNullWhen(true)] out byte[]? value)
    {
        if (session.TryGet<byte[]>(key, out var stored) && stored is not null)
        {
            value = stored;
            return true;
        }
        value = null;
        return false;
    }
}
