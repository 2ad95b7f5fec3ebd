/** The description as people wrote it: without the `#proposer=0x…` suffix that binds it to its proposer. */
export const descriptionText = (description: string) => description.replace(/#proposer=0x[0-9a-fA-F]{40}$/, "");

export const titleOf = (description: string) =>
  descriptionText(description)
    .split("\n")[0]
    ?.replace(/^#+\s*/, "") || "(untitled)";
