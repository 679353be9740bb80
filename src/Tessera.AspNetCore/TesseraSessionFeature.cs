using Microsoft.AspNetCore.Http;

namespace Tessera.AspNetCore;

internal sealed class TesseraSessionFeature(HttpContext context, HttpSession session, ISessionTransport transport) : ITesseraSessionFeature
{
    private bool _written;

    public HttpSession Session { get; } = session;

    public bool Abandoned { get; set; }

    /// <summary>Whether the session has changes that must reach the store before the response may start.</summary>
    public bool MustCommitBeforeResponse => !_written && !Abandoned && Session.IsLoaded && Session.HasChanges;

    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        if (_written || Abandoned)
        {
            return;
        }
        _written = true;
        var commit = await Session.CommitOutcomeAsync(cancellationToken).ConfigureAwait(false);
        if (!context.Response.HasStarted)
        {
            transport.WriteCommit(context, commit);
        }
    }
}
