namespace Tessera.Client.Tests;

/// <summary>An app's own <see cref="ITesseraTokenStore"/> (in memory) that remembers what it was asked to save and clear.</summary>
internal sealed class RecordingTokenStore(TesseraTokenPair? initial = null) : ITesseraTokenStore
{
    private readonly Lock _gate = new();
    private readonly List<TesseraTokenPair> _saved = [];
    private TesseraTokenPair? _pair = initial;
    private int _clears;

    public TesseraTokenPair? Pair
    {
        get
        {
            lock (_gate)
            {
                return _pair;
            }
        }
    }

    public IReadOnlyList<TesseraTokenPair> Saved
    {
        get
        {
            lock (_gate)
            {
                return [.. _saved];
            }
        }
    }

    public int Clears
    {
        get
        {
            lock (_gate)
            {
                return _clears;
            }
        }
    }

    public ValueTask<TesseraTokenPair?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Pair);

    public ValueTask SaveAsync(TesseraTokenPair pair, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _saved.Add(pair);
            _pair = pair;
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask ClearAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _clears++;
            _pair = null;
        }
        return ValueTask.CompletedTask;
    }
}
