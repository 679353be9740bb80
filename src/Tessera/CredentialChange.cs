namespace Tessera;

/// <summary>What a transport must do with the client's credential after a commit.</summary>
public enum CredentialChange
{
    /// <summary>Nothing: the client's credential (or its absence) stays right.</summary>
    None = 0,

    /// <summary>Give the client <see cref="SessionCommitResult.Credential"/>, replacing what it had.</summary>
    Issue,

    /// <summary>
    /// Tell the client to drop its credential: the session was destroyed, or was revoked or expired while this request
    /// ran. A cookie that finds no session on load is left alone, because a parallel request may just have replaced it.
    /// </summary>
    Clear,
}
